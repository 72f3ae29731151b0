using System.Net.Http.Json;
using Grpc.Net.Client;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Metrics;

/// <summary>
/// A Prometheus scrape after traffic on every API (TGI, OpenAI, TGIS gRPC, both tokenize routes): every metric TGIS's
/// README documents is there, with its type and its labels, and the counts add up to the calls made.
/// </summary>
public sealed class MetricsScrapeTests : IAsyncLifetime
{
    /// <summary>IBM/text-generation-inference README.md, "Metrics": name, kind, labels (37 rows).</summary>
    private static readonly (string Name, string Type, string[] Labels)[] Tgis =
    [
        ("tgi_request_count", "counter", ["kind"]),
        ("tgi_request_input_count", "counter", []),
        ("tgi_request_failure", "counter", ["err"]),
        ("tgi_request_success", "counter", ["stop_reason", "kind"]),
        ("tgi_request_max_new_tokens", "histogram", []),
        ("tgi_request_input_length", "histogram", []),
        ("tgi_request_raw_input_length", "histogram", []),
        ("tgi_request_mean_time_per_token_duration", "histogram", []),
        ("tgi_request_validation_duration", "histogram", []),
        ("tgi_request_queue_duration", "histogram", []),
        ("tgi_request_generated_tokens", "histogram", []),
        ("tgi_request_total_tokens", "histogram", []),
        ("tgi_request_duration", "histogram", []),
        ("tgi_request_inference_duration", "histogram", []),
        ("tgi_batch_concatenation_count", "counter", []),
        ("tgi_batch_inference_count", "counter", ["method"]),
        ("tgi_batch_inference_success", "counter", ["method"]),
        ("tgi_batch_inference_failure", "counter", ["method", "reason"]),
        ("tgi_batch_inference_batch_size", "histogram", ["method"]),
        ("tgi_batch_inference_duration", "histogram", ["method", "makeup"]),
        ("tgi_batch_inference_forward_duration", "histogram", ["method", "makeup"]),
        ("tgi_batch_inference_tokproc_duration", "histogram", ["method", "makeup"]),
        ("tgi_batch_next_tokens", "histogram", []),
        ("tgi_batch_current_size", "gauge", []),
        ("tgi_batch_input_tokens", "gauge", []),
        ("tgi_batch_max_remaining_tokens", "gauge", []),
        ("tgi_queue_size", "gauge", []),
        ("tgi_queue_jump", "counter", []),
        ("tgi_granular_batch_addition", "counter", []),
        ("tgi_prefill_weight_limit_exceeded", "counter", []),
        ("tgi_prefill_padding_limit_exceeded", "counter", []),
        ("tgi_prompt_load_failure", "counter", []),
        ("tgi_prompt_load_duration", "histogram", []),
        ("tgi_tokenize_request_count", "counter", []),
        ("tgi_tokenize_request_input_count", "counter", []),
        ("tgi_tokenize_request_tokens", "histogram", []),
        ("tgi_tokenize_request_duration", "histogram", []),
    ];

    private TestServer _server = null!;
    private GrpcChannel _channel = null!;
    private IReadOnlyDictionary<string, PrometheusFamily> _scrape = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, PromptPrefixDir = Path.GetTempPath() });
        _channel = GrpcChannel.ForAddress($"http://{_server.GrpcTarget}");
        await SendTrafficAsync();
        _scrape = PrometheusText.Parse(await _server.Client.GetStringAsync("/metrics"));
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _server.DisposeAsync();
    }

    /// <summary>
    /// Calls with known outcomes. Kinds: single = TGI /generate twice (one refused by validation after its kind is
    /// known) and a gRPC Generate naming a missing prefix; batch = OpenAI with two prompts, gRPC Generate with two
    /// inputs; stream = one per API.
    /// </summary>
    private async Task SendTrafficAsync()
    {
        var http = _server.Client;
        const string prompt = "Once upon a time";
        (await http.PostAsJsonAsync("/generate", new { inputs = prompt, parameters = new { max_new_tokens = 4 } })).EnsureSuccessStatusCode();
        Assert.Equal(422, (int)(await http.PostAsJsonAsync("/generate", new { inputs = prompt, parameters = new { temperature = -1.0 } })).StatusCode);
        await (await http.PostAsJsonAsync("/generate_stream", new { inputs = prompt, parameters = new { max_new_tokens = 4 } })).EnsureSuccessStatusCode().Content.ReadAsStringAsync();
        (await http.PostAsJsonAsync("/tokenize", new { inputs = prompt })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync("/v1/completions", new { model = "m", prompt = new[] { prompt, "The dog" }, max_tokens = 4 })).EnsureSuccessStatusCode();
        await (await http.PostAsJsonAsync("/v1/completions", new { model = "m", prompt, max_tokens = 4, stream = true })).EnsureSuccessStatusCode().Content.ReadAsStringAsync();

        var grpc = new GenerationService.GenerationServiceClient(_channel);
        var parameters = new Parameters { Stopping = new StoppingCriteria { MaxNewTokens = 4 } };
        await grpc.GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = prompt }, new GenerationRequest { Text = "The dog" } }, Params = parameters });
        using (var stream = grpc.GenerateStream(new SingleGenerationRequest { Request = new GenerationRequest { Text = prompt }, Params = parameters }))
        {
            while (await stream.ResponseStream.MoveNext(CancellationToken.None)) { }
        }
        await grpc.TokenizeAsync(new BatchedTokenizeRequest { Requests = { new TokenizeRequest { Text = prompt }, new TokenizeRequest { Text = "The dog" } } });
        // A prefix that is not there: a failed prompt load.
        await Assert.ThrowsAsync<global::Grpc.Core.RpcException>(async () =>
            await grpc.GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = prompt } }, PrefixId = "no-such-prefix", Params = parameters }));
    }

    private double Value(string family, params (string Label, string Value)[] labels) =>
        _scrape[family].Samples.Single(s => s.Name == family && labels.All(l => s.Labels.GetValueOrDefault(l.Label) == l.Value)).Value;

    private double Sum(string family, params (string Label, string Value)[] labels) =>
        _scrape[family].Samples.Where(s => s.Name == family && labels.All(l => s.Labels.GetValueOrDefault(l.Label) == l.Value)).Sum(s => s.Value);

    private double HistogramCount(string family) => _scrape[family].Samples.Where(s => s.Name == family + "_count").Sum(s => s.Value);

    [Fact]
    public void EveryTgisMetric_IsThere_WithItsTypeAndLabels()
    {
        Assert.Equal(37, Tgis.Length);
        foreach (var (name, type, labels) in Tgis)
        {
            Assert.True(_scrape.TryGetValue(name, out var family), $"{name} is missing");
            Assert.Equal(type, family!.Type);
            Assert.NotEmpty(family.Samples);
            foreach (var sample in family.Samples)
                Assert.Equal(labels.Order(), sample.Labels.Keys.Where(k => k != "le").Order());
            // TGIS exports each counter twice, the second with the _total suffix Prometheus clients expect.
            if (type == "counter") Assert.Equal(family.Samples.Select(s => s.Value), _scrape[name + "_total"].Samples.Select(s => s.Value));
        }
    }

    [Fact]
    public void RequestCounts_ByKind_AddUpToTheCalls()
    {
        // TGI /generate twice, and the gRPC Generate with the missing prefix.
        Assert.Equal(3, Value("tgi_request_count", ("kind", "single")));
        Assert.Equal(2, Value("tgi_request_count", ("kind", "batch")));
        Assert.Equal(3, Value("tgi_request_count", ("kind", "stream")));
        // Inputs: 1 + 1 + 1 (TGI) + 2 + 1 (OpenAI) + 2 + 1 (gRPC) + 1 (the missing prefix).
        Assert.Equal(10, Value("tgi_request_input_count"));
        // Every sequence that ran ended by max_new_tokens: 1 + 1 (TGI), 2 + 1 (OpenAI), 2 + 1 (gRPC).
        Assert.Equal(8, Sum("tgi_request_success"));
        Assert.Equal(8, Sum("tgi_request_success", ("stop_reason", "MAX_TOKENS")));
        Assert.Equal(1, Value("tgi_request_success", ("stop_reason", "MAX_TOKENS"), ("kind", "single")));
        Assert.Equal(4, Value("tgi_request_success", ("stop_reason", "MAX_TOKENS"), ("kind", "batch")));
        Assert.Equal(3, Value("tgi_request_success", ("stop_reason", "MAX_TOKENS"), ("kind", "stream")));
        Assert.Equal(2, Value("tgi_request_failure", ("err", "validation")));
        Assert.Equal(0, Value("tgi_request_failure", ("err", "cancelled")));
        Assert.Equal(1, Value("tgi_prompt_load_failure"));
    }

    [Fact]
    public void PerSequenceHistograms_CountEverySequence()
    {
        foreach (var name in new[] { "tgi_request_duration", "tgi_request_generated_tokens", "tgi_request_total_tokens", "tgi_request_queue_duration",
                     "tgi_request_inference_duration", "tgi_request_mean_time_per_token_duration" })
            Assert.Equal(8, HistogramCount(name));
        Assert.Equal(8 * 4, _scrape["tgi_request_generated_tokens"].Samples.Single(s => s.Name == "tgi_request_generated_tokens_sum").Value);
        // Six calls reached the queue (the refused one and the missing prefix did not).
        Assert.Equal(6, HistogramCount("tgi_request_validation_duration"));
        Assert.Equal(8, HistogramCount("tgi_request_input_length"));
        Assert.Equal(9, HistogramCount("tgi_request_raw_input_length"));
    }

    [Fact]
    public void TokenizeCalls_FromBothApis_AreCounted()
    {
        Assert.Equal(2, Value("tgi_tokenize_request_count"));
        Assert.Equal(3, Value("tgi_tokenize_request_input_count"));
        Assert.Equal(2, HistogramCount("tgi_tokenize_request_tokens"));
        Assert.Equal(2, HistogramCount("tgi_tokenize_request_duration"));
    }

    [Fact]
    public void EngineSteps_AreCountedByMethod()
    {
        double prefill = Value("tgi_batch_inference_count", ("method", "prefill"));
        double decode = Value("tgi_batch_inference_count", ("method", "next_token"));
        Assert.True(prefill >= 1 && decode >= 1, $"prefill {prefill}, next_token {decode}");
        Assert.Equal(prefill, Value("tgi_batch_inference_success", ("method", "prefill")));
        Assert.Equal(prefill + decode, HistogramCount("tgi_batch_inference_batch_size"));
        Assert.Equal(prefill + decode, HistogramCount("tgi_batch_inference_duration"));
        Assert.Equal(prefill, HistogramCount("tgi_batch_next_tokens"));
        // After the last call nothing runs.
        Assert.Equal(0, Value("tgi_batch_current_size"));
        Assert.Equal(0, Value("tgi_batch_input_tokens"));
        Assert.Equal(0, Value("tgi_queue_size"));
    }
}
