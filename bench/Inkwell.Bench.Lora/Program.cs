using System.Diagnostics;
using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Models.Lora;
using Inkwell.Runtime.Threading;

// Decode throughput of one batch on the base model beside the same batch with its rows spread over LoRA adapters
// (row i uses adapter i % count): the cost of the per-row low-rank deltas, grouped by adapter, on top of the base GEMMs.
// usage: Inkwell.Bench.Lora MODEL TOKENIZER|- ADAPTER_DIR[,ADAPTER_DIR...] [batch 16] [steps 64] [threads 2] [reps 3]
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Inkwell.Bench.Lora MODEL TOKENIZER|- ADAPTER[,ADAPTER...] [batch 16] [steps 64] [threads 2] [reps 3]");
    return 2;
}
string modelPath = args[0];
string? tokenizer = args[1] == "-" ? null : args[1];
var adapterPaths = args[2].Split(',', StringSplitOptions.RemoveEmptyEntries);
int batch = args.Length > 3 ? int.Parse(args[3]) : 16;
int steps = args.Length > 4 ? int.Parse(args[4]) : 64;
int threads = args.Length > 5 ? int.Parse(args[5]) : 2;
int reps = args.Length > 6 ? int.Parse(args[6]) : 3;

using var loaded = ModelLoader.Load(modelPath, tokenizer);
var set = LoraAdapterSet.Attach(loaded.Config, loaded.Weights, [.. adapterPaths.Select((p, i) => ($"a{i}", p))]);
using var pool = new WorkerPool(threads);
var model = loaded.CreateModel(pool);
const int blockSize = 16, promptLength = 8;
int blocksEach = (promptLength + steps + blockSize - 1) / blockSize;
var kv = model.CreateKvCache(blockSize, blocksEach * batch);
var tables = Enumerable.Range(0, batch).Select(i => Enumerable.Range(i * blocksEach, blocksEach).ToArray()).ToArray();
var rng = new Random(42);
var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, promptLength).Select(_ => rng.Next(loaded.Config.VocabSize)).ToArray()).ToArray();

double DecodeTokensPerSecond(Func<int, int> slotOf)
{
    model.Forward([.. Enumerable.Range(0, batch).Select(i => new SequenceChunk(prompts[i], 0, tables[i], LogitsWanted.None, Adapter: slotOf(i)))], kv);
    var next = new int[batch][];
    for (int i = 0; i < batch; i++) next[i] = [rng.Next(loaded.Config.VocabSize)];
    var chunks = new SequenceChunk[batch];
    var clock = Stopwatch.StartNew();
    for (int s = 0; s < steps; s++)
    {
        for (int i = 0; i < batch; i++) chunks[i] = new SequenceChunk(next[i], promptLength + s, tables[i], Adapter: slotOf(i));
        model.Forward(chunks, kv);
    }
    return batch * steps / clock.Elapsed.TotalSeconds;
}

int count = set.Adapters.Count;
var modes = new (string Name, Func<int, int> SlotOf)[]
{
    ("base only", _ => 0),
    ($"{count} adapters mixed", i => 1 + i % count),
    ($"half base, half {count} adapters", i => i % 2 == 0 ? 0 : 1 + i / 2 % count),
};
Console.WriteLine($"model {Path.GetFileName(modelPath)} ({loaded.Config.Dim} dim, {loaded.Config.LayerCount} layers), batch {batch}, {steps} decode steps, {threads} threads, best of {reps}");
Console.WriteLine($"adapters: {string.Join(", ", set.Adapters.Select(a => $"{a.Name} rank {a.Rank} ({a.Targets.Count} targets)"))}");
Console.WriteLine("| batch | decode tokens/s |");
Console.WriteLine("| --- | ---: |");
foreach (var (name, slotOf) in modes)
{
    DecodeTokensPerSecond(slotOf); // warm-up
    double best = Enumerable.Range(0, reps).Max(_ => DecodeTokensPerSecond(slotOf));
    Console.WriteLine($"| {name} | {best:F0} |");
}
return 0;
