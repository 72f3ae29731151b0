using System.Numerics.Tensors;
using System.Text.Json;
using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Threading;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Grpc;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.PromptTuning;

/// <summary>
/// Soft prompts through the real server's gRPC API, checked against a greedy loop written here over DecoderModel.Forward
/// with every input row given as an embedding (the soft prompt, then the prompt's token embeddings): no engine,
/// scheduler, KV cache manager or server code involved.
/// </summary>
public sealed class PromptTuningTests : IAsyncLifetime
{
    private const string Prompt = "Once upon a time";
    private const int MaxNewTokens = 24;
    private static readonly string ModelPath = Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    private readonly string _directory = Directory.CreateTempSubdirectory("inkwell-prefixes-").FullName;
    private LoadedModel _reference = null!;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _reference = ModelLoader.Load(ModelPath);
        _server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, PromptPrefixDir = _directory });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _reference.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [PythonGrpcFact]
    public async Task Prefixes_GiveExactlyTheDirectForwardPassOutput_AndDifferFromEachOther()
    {
        // 20 virtual tokens: more than a KV block (16), so the two prefixes' first blocks hold identical placeholder
        // ids and only the per-prefix cache salt keeps them apart.
        var dragon = SoftPrompt("The dragon flew over the dark castle and the king was very angry with the big dragon");
        var garden = SoftPrompt("Lily and her mom went to the park to play with the ball and eat some ice cream");
        int dim = _reference.Config.Dim;
        SafeTensorsWriter.Write(Path.Combine(_directory, "dragon.safetensors"), "prompt_embeddings", dragon, dragon.Length / dim, dim);
        SafeTensorsWriter.Write(Path.Combine(_directory, "garden.safetensors"), "prompt_embeddings", garden, garden.Length / dim, dim, "BF16");

        var expectedDragon = ReferenceGreedy(dragon);
        var expectedGarden = ReferenceGreedy(SafeTensorsWriter.RoundTrip(garden, "BF16"));
        Assert.NotEqual(expectedDragon, expectedGarden);

        Assert.Equal(expectedDragon, await GenerateTokensAsync("dragon"));
        Assert.Equal(expectedGarden, await GenerateTokensAsync("garden"));
        // Again, now that cached blocks exist for both: the salt must keep them apart.
        Assert.Equal(expectedDragon, await GenerateTokensAsync("dragon"));

        var withoutPrefix = await GenerateTokensAsync(null);
        Assert.NotEqual(expectedDragon, withoutPrefix);
        Assert.Equal(ReferenceGreedy([]), withoutPrefix);
    }

    [PythonGrpcFact]
    public async Task Stream_WithPrefix_MatchesUnary()
    {
        int dim = _reference.Config.Dim;
        var prefix = SoftPrompt("A big red ball");
        SafeTensorsWriter.Write(Path.Combine(_directory, "ball.safetensors"), "w", prefix, prefix.Length / dim, dim, "F16");

        var stream = await PythonGrpcClient.CallAsync("stream", _server.GrpcTarget, "GenerateStream",
            $$$$"""{"prefix_id": "ball", "request": {"text": "{{{{Prompt}}}}"}, "params": {"stopping": {"max_new_tokens": {{{{MaxNewTokens}}}}}}}""");
        var unary = await PythonGrpcClient.CallAsync("unary", _server.GrpcTarget, "Generate",
            $$$$"""{"prefix_id": "ball", "requests": [{"text": "{{{{Prompt}}}}"}], "params": {"stopping": {"max_new_tokens": {{{{MaxNewTokens}}}}}}}""");
        Assert.Equal(unary.GetProperty("response").GetProperty("responses")[0].GetProperty("text").GetString(),
            string.Concat(stream.GetProperty("responses").EnumerateArray().Select(m => m.GetProperty("text").GetString())));
    }

    [PythonGrpcFact]
    public async Task UnusablePrefixIds_AreInvalidArgument()
    {
        int dim = _reference.Config.Dim;
        SafeTensorsWriter.Write(Path.Combine(_directory, "narrow.safetensors"), "w", new float[3 * (dim - 1)], 3, dim - 1);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(_directory)!, "outside.safetensors"), "");

        var cases = new Dictionary<string, string>
        {
            ["nope"] = "can't retrieve prompt prefix with id 'nope': not found",
            ["../outside"] = "can't retrieve prompt prefix with id '../outside': invalid prefix id",
            ["narrow"] = $"can't retrieve prompt prefix with id 'narrow': tensor 'w' has shape [3, {dim - 1}], expected [n_virtual_tokens, {dim}] (the model's hidden size)",
        };
        foreach (var (id, message) in cases)
        {
            var result = await PythonGrpcClient.CallAsync("unary", _server.GrpcTarget, "Generate",
                $$$$"""{"prefix_id": {{{{JsonSerializer.Serialize(id)}}}}, "requests": [{"text": "hi"}]}""");
            Assert.Equal("INVALID_ARGUMENT", result.GetProperty("code").GetString());
            Assert.StartsWith(message, result.GetProperty("details").GetString());
        }
    }

    private async Task<List<string>> GenerateTokensAsync(string? prefixId)
    {
        string prefix = prefixId is null ? "" : $"\"prefix_id\": \"{prefixId}\", ";
        var result = await PythonGrpcClient.CallAsync("unary", _server.GrpcTarget, "Generate", $$$$"""
            {{{{{prefix}}}}"requests": [{"text": "{{{{Prompt}}}}"}], "params": {"stopping": {"max_new_tokens": {{{{MaxNewTokens}}}}}, "response": {"generated_tokens": true}}}
            """);
        Assert.Equal("OK", result.GetProperty("code").GetString());
        return result.GetProperty("response").GetProperty("responses")[0].GetProperty("tokens").EnumerateArray()
            .Select(t => t.GetProperty("text").GetString()!).ToList();
    }

    /// <summary>A soft prompt made of the token embeddings of a text (realistic magnitudes), 20 rows.</summary>
    private float[] SoftPrompt(string text)
    {
        int dim = _reference.Config.Dim;
        var ids = _reference.Tokenizer.EncodeToIds(text, addSpecialTokens: false).Take(20).ToArray();
        var values = new float[ids.Length * dim];
        for (int i = 0; i < ids.Length; i++) MatMul.DequantizeRow(_reference.Weights.TokenEmbedding, ids[i], values.AsSpan(i * dim, dim));
        return values;
    }

    /// <summary>Greedy decoding by hand: one forward over [soft prompt rows, prompt token embeddings], then one token at a time.</summary>
    private List<string> ReferenceGreedy(float[] prefix)
    {
        var config = _reference.Config;
        int dim = config.Dim;
        var tokenizer = _reference.Tokenizer;
        var ids = tokenizer.EncodeToIds(Prompt);
        int prefixRows = prefix.Length / dim;
        int rows = prefixRows + ids.Count;
        var embeddings = new float[rows * dim];
        prefix.CopyTo(embeddings, 0);
        for (int i = 0; i < ids.Count; i++) MatMul.DequantizeRow(_reference.Weights.TokenEmbedding, ids[i], embeddings.AsSpan((prefixRows + i) * dim, dim));

        using var pool = new WorkerPool(1);
        // Not disposed: DecoderModel.Dispose would dispose the weights, which _reference owns.
        ICausalLM model = new Inkwell.Models.Decoder.DecoderModel(config, _reference.Weights, pool);
        var (kv, table) = model.CreateSequenceCache(rows + MaxNewTokens);

        var generated = new List<string>();
        var logits = model.Forward(new[] { new SequenceChunk(new int[rows], 0, table, LogitsWanted.Last, embeddings) }, kv);
        int position = rows;
        while (true)
        {
            int token = TensorPrimitives.IndexOfMax(logits);
            generated.Add(tokenizer.TokenText(token));
            if (generated.Count == MaxNewTokens || tokenizer.IsEndOfGeneration(token)) return generated;
            logits = model.Forward(new[] { new SequenceChunk(new[] { token }, position++, table) }, kv);
        }
    }
}
