using System.Diagnostics;
using System.Text.Json;
using Inkwell.Engine;
using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Engine.Scheduling;
using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.Server.Grammar;

// Per-token cost of constrained generation: the same seeded sampled requests with and without a JSON-schema grammar,
// plus the grammar's compile time (cold, fresh vocabulary index each time) and the per-token mask + advance cost alone.
// usage: dotnet run -c Release --project bench/Inkwell.Bench.Grammar -- [MODEL] [SCHEMA.json] [threads] [runs] [max_new_tokens]
string modelPath = args.ElementAtOrDefault(0) ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "bench-models", "stories15M-f32.gguf");
string schemaPath = args.ElementAtOrDefault(1) ?? Path.Combine(AppContext.BaseDirectory, "schema.json");
int threads = int.Parse(args.ElementAtOrDefault(2) ?? "1");
int runs = int.Parse(args.ElementAtOrDefault(3) ?? "8");
int maxNew = int.Parse(args.ElementAtOrDefault(4) ?? "128");

using var model = ModelLoader.Load(modelPath);
string schema = File.ReadAllText(schemaPath);
var spec = new GrammarSpec(GrammarKind.JsonSchema, schema);
Console.WriteLine($"model {Path.GetFileName(modelPath)} (vocab {model.Tokenizer.VocabSize}), schema {Path.GetFileName(schemaPath)}, {threads} thread(s), {runs} runs x {maxNew} max new tokens");

// Compile: vocabulary index (once per model in the server) and the grammar itself, each cold.
var sw = Stopwatch.StartNew();
var vocabulary = GrammarService.BuildVocabulary(model.Tokenizer);
double vocabMs = sw.Elapsed.TotalMilliseconds;
var compiles = new List<double>();
TokenAutomaton automaton = null!;
for (int i = 0; i < 5; i++)
{
    sw.Restart();
    automaton = GrammarCompiler.Compile(spec, GrammarService.BuildVocabulary(model.Tokenizer));
    compiles.Add(sw.Elapsed.TotalMilliseconds);
}
automaton = GrammarCompiler.Compile(spec, vocabulary);
Console.WriteLine($"vocabulary index {vocabMs:F0} ms; grammar compile (regex -> DFA -> token masks) median {Median(compiles):F0} ms " +
    $"(min {compiles.Min():F0}, vocabulary index included); {automaton.StateCount} DFA states, {automaton.DistinctMasks} distinct masks, {automaton.MemoryBytes >> 10} KiB");

using var pool = new WorkerPool(threads);
var llama = model.CreateModel(pool);
await using var engine = new InferenceEngine(llama, model.Tokenizer, new EngineOptions
{
    KvCacheTokens = 4096,
    BlockSize = 16,
    PrefixCaching = false,
    Scheduler = new SchedulerOptions { MaxBatchTokens = 4096, MaxRunningRequests = 1 },
});
var prompt = model.Tokenizer.EncodeToIds("Once upon a time");
// stories15M's context is short: keep prompt + output inside it.
maxNew = Math.Min(maxNew, model.Config.ContextLength - prompt.Count - 1);

async Task<(double MsPerToken, int Tokens, string Text)> Generate(int seed, bool constrained)
{
    var reader = engine.Submit(new GenerationRequest
    {
        PromptTokens = prompt,
        Sampling = new SamplingParameters { DoSample = true, Temperature = 1f, Seed = (ulong)seed },
        Stopping = new StoppingParameters { MaxNewTokens = maxNew, IgnoreEos = !constrained },
        Constraint = constrained ? new GrammarConstraint(automaton, vocabulary) : null,
    });
    await foreach (var e in reader.ReadAllAsync())
    {
        if (e is GenerationFinished f)
        {
            var r = f.Result;
            // Time per token after the first (the first includes the prompt's prefill).
            double decodeMs = (r.InferenceTime - r.TimeToFirstToken).TotalMilliseconds;
            return (decodeMs / Math.Max(1, r.GeneratedTokenCount - 1), r.GeneratedTokenCount, r.GeneratedText);
        }
        if (e is GenerationFailed x) throw new InvalidOperationException(x.Message);
    }
    throw new InvalidOperationException("no result");
}

// Warm up both paths (tiered compilation), then alternate so drift on the shared machine hits both equally.
for (int i = 0; i < 2; i++) { await Generate(1000 + i, false); await Generate(1000 + i, true); }
var free = new List<double>();
var constrainedMs = new List<double>();
int constrainedTokens = 0;
string example = "";
for (int i = 0; i < runs; i++)
{
    free.Add((await Generate(i, false)).MsPerToken);
    var c = await Generate(i, true);
    constrainedMs.Add(c.MsPerToken);
    constrainedTokens += c.Tokens;
    example = c.Text;
}

// The grammar's own per-token work, without the model: mask the logits, then advance, along sampled walks.
var logits = new float[model.Config.VocabSize];
var rng = new Random(7);
long steps = 0;
sw.Restart();
while (sw.Elapsed < TimeSpan.FromSeconds(2))
{
    var g = new GrammarConstraint(automaton, vocabulary);
    for (int t = 0; t < maxNew && !g.IsExhausted; t++)
    {
        Array.Clear(logits);
        g.Mask(logits, maxNew - t);
        int start = rng.Next(logits.Length), token = -1;
        for (int k = 0; k < logits.Length; k++)
        {
            int id = (start + k) % logits.Length;
            if (!float.IsNegativeInfinity(logits[id]) && !vocabulary.EndOfGenerationIds.Contains(id)) { token = id; break; }
        }
        if (token < 0) break;
        g.Advance(token);
        steps++;
    }
}
double maskUs = sw.Elapsed.TotalMicroseconds / steps;

Console.WriteLine($"max new tokens {maxNew}; per token (decode, median of {runs}): unconstrained {Median(free):F2} ms, JSON-schema grammar {Median(constrainedMs):F2} ms " +
    $"({constrainedTokens / (double)runs:F0} tokens per constrained run on average)");
Console.WriteLine($"grammar work alone (mask + advance): {maskUs:F1} us per token");
Console.WriteLine("example constrained output: " + example);
Console.WriteLine(JsonSerializer.Serialize(new
{
    model = Path.GetFileName(modelPath),
    threads,
    runs,
    vocab_index_ms = vocabMs,
    compile_ms_median = Median(compiles),
    unconstrained_ms_per_token = Median(free),
    constrained_ms_per_token = Median(constrainedMs),
    mask_advance_us_per_token = maskUs,
}));
return 0;

static double Median(List<double> xs)
{
    var s = xs.Order().ToList();
    return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
}
