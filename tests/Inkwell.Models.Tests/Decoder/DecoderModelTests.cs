using System.Numerics.Tensors;
using System.Text.Json;
using Inkwell.Models.Decoder;
using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Decoder;

/// <summary>Routing checks of the forward pass that the llama.cpp fixtures cannot make (their bases coincide).</summary>
public sealed class DecoderModelTests
{
    [SharedFact]
    public void Sliding_layers_rotate_with_their_own_base_exactly_as_a_model_with_that_base_everywhere()
    {
        // Gemma 3 with every layer sliding: a separate sliding base of 500 must give the same logits, bit for bit, as
        // the global base set to 500 (one table); and differ from leaving the base at 10000.
        using var f = GgufFile.Open(RepoPaths.InShared("arch-models", "gemma3-dense.gguf"));
        var c = GgufDecoderLoader.ReadConfig(f);
        var weights = GgufDecoderLoader.ReadWeights(f, c);
        var allSliding = c with { SlidingLayers = Enumerable.Repeat(true, c.LayerCount).ToArray() };
        int[] tokens = [5, 17, 99, 3, 64, 21, 8, 120, 45, 2, 77, 31];
        float[] Logits(ModelConfig config)
        {
            using var pool = new WorkerPool(1);
            var model = new DecoderModel(config, weights, pool);
            return TokenLogits.Evaluate(model, tokens, 0).Logits.SelectMany(r => r).ToArray();
        }
        var ownBase = Logits(allSliding with { RopeTheta = 10000f, RopeThetaSliding = 500f });
        var globalBase = Logits(allSliding with { RopeTheta = 500f, RopeThetaSliding = 0f });
        var unchanged = Logits(allSliding with { RopeTheta = 10000f, RopeThetaSliding = 0f });
        Assert.Equal(globalBase, ownBase);
        Assert.NotEqual(unchanged, ownBase);
    }

    public static TheoryData<string> Families => new()
    {
        "llama-dense", "qwen2-dense", "qwen3-dense", "gemma2-dense", "gemma3-dense", "phi3-dense", "granite-dense", "olmo2-dense",
        "smollm3-dense", "llama-moe", "qwen3moe-moe", "granite-moe",
    };

    [SharedTheory]
    [MemberData(nameof(Families))]
    public void Batches_that_want_logits_for_some_rows_match_llama_cpp_and_leave_the_cache_whole(string name)
    {
        // The last layer runs only the rows that want logits, after every row's keys and values are cached. Three
        // sequences of llama.cpp's reference tokens: A is prefilled in pieces that want no logits (a pass with no
        // logit rows at all, then one beside B and C) and finished in a third pass that wants all of its rows; B wants
        // its last row, then decodes its greedy token; C wants every row. Each row must be llama.cpp's, and A's last
        // rows (computed over keys cached by passes that cut their last layer short) prove the cache was filled.
        string path = RepoPaths.InShared("arch-models", name);
        using var reference = JsonDocument.Parse(File.ReadAllText(path + ".logits.json"));
        var root = reference.RootElement;
        int[] tokens = [.. root.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32())];
        float[][] expected = [.. root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray())];
        int[] greedy = [.. root.GetProperty("greedy").EnumerateArray().Select(t => t.GetInt32())];
        int n = tokens.Length, vocab = expected[0].Length;

        using var loaded = ModelLoader.Load(path + ".gguf");
        using var pool = new WorkerPool(2);
        var model = loaded.CreateModel(pool);
        const int blockSize = 16;
        int blocksEach = (n + 1 + blockSize - 1) / blockSize;
        var kv = model.CreateKvCache(blockSize, 3 * blocksEach);
        int[][] tables = [.. Enumerable.Range(0, 3).Select(s => Enumerable.Range(s * blocksEach, blocksEach).ToArray())];
        int[] Slice(int from, int to) => tokens[from..to];

        Assert.Equal(0, model.Forward([new SequenceChunk(Slice(0, 5), 0, tables[0], LogitsWanted.None)], kv).Length);
        var first = model.Forward([
            new SequenceChunk(Slice(5, 10), 5, tables[0], LogitsWanted.None),
            new SequenceChunk(tokens, 0, tables[1], LogitsWanted.Last),
            new SequenceChunk(tokens, 0, tables[2], LogitsWanted.All)], kv).ToArray();
        Assert.Equal((1 + n) * vocab, first.Length);
        var second = model.Forward([
            new SequenceChunk(Slice(10, n), 10, tables[0], LogitsWanted.All),
            new SequenceChunk(new[] { greedy[0] }, n, tables[1])], kv).ToArray();
        Assert.Equal((n - 10 + 1) * vocab, second.Length);

        float[] Row(float[] rows, int i) => rows.AsSpan(i * vocab, vocab).ToArray();
        var actual = new List<float[]> { Row(first, 0) };
        var wanted = new List<float[]> { expected[n - 1] };
        for (int i = 0; i < n; i++) { actual.Add(Row(first, 1 + i)); wanted.Add(expected[i]); }
        for (int i = 10; i < n; i++) { actual.Add(Row(second, i - 10)); wanted.Add(expected[i]); }
        for (int i = 0; i < actual.Count; i++)
        {
            double nmse = TokenLogits.NormalizedMse([actual[i]], [wanted[i]]);
            Assert.True(nmse <= 1e-5, $"{name}: NMSE {nmse:E3} of compared row {i} exceeds 1e-5");
        }
        Assert.Equal(greedy[1], TensorPrimitives.IndexOfMax(Row(second, n - 10)));
    }
}
