using Inkwell.Models.Loading;
using Inkwell.Models.Lora;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Lora;

/// <summary>
/// The per-row LoRA delta against the outside reference: tests/fixtures/lora/make-lora.py writes random adapters over
/// the embedded stories260K model and, in numpy, the merged models W + scale·B@A. A batch mixing base rows and rows of
/// three adapters (PEFT, rsLoRA PEFT, GGUF) must give each row the logits and greedy tokens of its own model alone.
/// </summary>
public sealed class LoraForwardTests
{
    internal static string Fixture(params string[] parts) => RepoPaths.InRoot(["tests", "fixtures", "lora", .. parts]);
    internal static string Tokenizer => Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin");
    internal static LoadedModel LoadBase() => ModelLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin"), Tokenizer);

    internal static LoadedModel LoadWithAdapters()
    {
        var model = LoadBase();
        LoraAdapterSet.Attach(model.Config, model.Weights,
            [("alpha", Fixture("alpha")), ("rs", Fixture("rs")), ("alpha-gguf", Fixture("alpha.gguf"))]);
        return model;
    }

    [Fact]
    public void Mixed_batch_rows_equal_their_merged_models_and_base_rows_the_base_model()
    {
        using var adapted = LoadWithAdapters();
        using var merged = ModelLoader.Load(Fixture("merged-alpha.bin"), Tokenizer);
        using var mergedRs = ModelLoader.Load(Fixture("merged-rs.bin"), Tokenizer);
        using var plain = LoadBase();
        var set = adapted.Weights.Adapters!;
        int alpha = set.Find("alpha")!.Slot, rs = set.Find("rs")!.Slot, gguf = set.Find("alpha-gguf")!.Slot;

        // Two rows of "alpha", apart, so its group gathers rows that are not adjacent.
        int[][] prompts = [[1, 403, 407, 261, 378], [1, 403, 407], [1, 69, 290, 261, 378, 400], [1, 403, 407, 261, 378], [1, 300, 301]];
        int[] slots = [alpha, 0, rs, gguf, alpha];
        LoadedModel[] references = [merged, plain, mergedRs, merged, merged];
        const int steps = 24;

        using var pool = new WorkerPool(1);
        var batch = GreedyBatch(adapted.CreateModel(pool), prompts, slots, steps);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = GreedyBatch(references[i].CreateModel(pool), [prompts[i]], [0], steps);
            Assert.Equal(alone.Tokens[0], batch.Tokens[i]);
            for (int s = 0; s < steps; s++)
            {
                var (expected, actual) = (alone.Logits[0][s], batch.Logits[i][s]);
                for (int v = 0; v < expected.Length; v++)
                    Assert.True(Math.Abs(expected[v] - actual[v]) <= 1e-3f * (1 + Math.Abs(expected[v])),
                        $"row {i} step {s} token {v}: merged {expected[v]}, adapter {actual[v]}");
            }
        }
        // The adapters change the text (or the comparison above would prove nothing about the delta).
        Assert.NotEqual(GreedyBatch(plain.CreateModel(pool), [prompts[0]], [0], steps).Tokens[0], batch.Tokens[0]);
        Assert.NotEqual(GreedyBatch(plain.CreateModel(pool), [prompts[2]], [0], steps).Tokens[0], batch.Tokens[2]);
    }

    [Fact]
    public void The_gguf_adapter_continues_as_llama_cpp_does_with_it_and_the_base_rows_as_without_it()
    {
        // A second outside reference: llama.cpp's llama-server applying alpha.gguf itself (llama-cpp-greedy.json).
        var expected = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Fixture("llama-cpp-greedy.json")))!;
        int[] Ids(string key) => [.. expected[key]!.AsArray().Select(n => n!.GetValue<int>())];
        using var adapted = LoadWithAdapters();
        using var pool = new WorkerPool(1);
        int[] prompt = Ids("prompt");
        var batch = GreedyBatch(adapted.CreateModel(pool), [prompt, prompt], [adapted.Weights.Adapters!.Find("alpha-gguf")!.Slot, 0], 20);
        Assert.Equal(Ids("alpha"), batch.Tokens[0]);
        Assert.Equal(Ids("base"), batch.Tokens[1]);
    }

    [Fact]
    public void An_adapter_slot_the_model_does_not_have_is_refused()
    {
        using var adapted = LoadWithAdapters();
        using var pool = new WorkerPool(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => GreedyBatch(adapted.CreateModel(pool), [[1, 403]], [4], 1));
        Assert.Contains("adapter slot 4", e.Message);
    }

    /// <summary>Prefill then greedy decode of every sequence together, one forward pass per step, each in its own blocks.</summary>
    internal static (List<int>[] Tokens, List<float[]>[] Logits) GreedyBatch(ICausalLM model, int[][] prompts, int[] slots, int steps)
    {
        const int blockSize = 16;
        int blocksEach = (prompts.Max(p => p.Length) + steps + blockSize - 1) / blockSize;
        var kv = model.CreateKvCache(blockSize, blocksEach * prompts.Length);
        int n = prompts.Length, vocab = model.Config.VocabSize;
        var tables = Enumerable.Range(0, n).Select(i => Enumerable.Range(i * blocksEach, blocksEach).ToArray()).ToArray();
        var tokens = prompts.Select(p => new List<int>()).ToArray();
        var logits = prompts.Select(p => new List<float[]>()).ToArray();
        var positions = prompts.Select(p => 0).ToArray();
        var next = prompts.Select(p => (int[])p.Clone()).ToArray();
        for (int s = 0; s < steps; s++)
        {
            var chunks = Enumerable.Range(0, n).Select(i => new SequenceChunk(next[i], positions[i], tables[i], Adapter: slots[i])).ToArray();
            var rows = model.Forward(chunks, kv).ToArray();
            for (int i = 0; i < n; i++)
            {
                var row = rows.AsSpan(i * vocab, vocab).ToArray();
                int token = Array.IndexOf(row, row.Max());
                logits[i].Add(row);
                tokens[i].Add(token);
                positions[i] += next[i].Length;
                next[i] = [token];
            }
        }
        return (tokens, logits);
    }
}
