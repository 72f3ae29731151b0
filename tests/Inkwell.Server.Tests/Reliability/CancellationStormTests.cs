using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;
using Xunit.Abstractions;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>
/// Hundreds of streams over TGI, OpenAI and gRPC, each cut at a random point (before its first event, after some,
/// or never), some of them sharing prompt prefixes: afterwards /metrics must show every KV block and every permit
/// free, nothing queued or running, and the server must still answer.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class CancellationStormTests(ITestOutputHelper output)
{
    /// <summary>300 in CI; INKWELL_STORM_STREAMS for a longer run.</summary>
    private static readonly int Streams = int.TryParse(Environment.GetEnvironmentVariable("INKWELL_STORM_STREAMS"), out int n) && n > 0 ? n : 300;
    private const int Concurrency = 32;

    private static readonly string[] Prompts =
    [
        "Once upon a time",
        "Once upon a time there was a little girl named Lily. She loved to play outside in the sun.",
        "The little dog",
        string.Concat(Enumerable.Repeat("Tom and his friend went to the park and played on the swings. ", 6)),
    ];

    [Fact]
    public async Task StreamsCutAtRandomPoints_LeaveEveryBlockAndPermitFree()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, MaxConcurrentRequests = 64 });
        using var channel = GrpcChannel.ForAddress($"http://{server.GrpcTarget}");
        var grpc = new GenerationService.GenerationServiceClient(channel);
        int seed = Environment.TickCount;
        var random = new Random(seed);
        var plans = Enumerable.Range(0, Streams).Select(i =>
        {
            int tokens = random.Next(2, 200);
            // Four in five are cut: before the first event (-1) or after a random number of events; the rest run out.
            int cutAfter = random.Next(5) == 0 ? int.MaxValue : random.Next(-1, tokens);
            return (Api: i % 3, Prompt: Prompts[random.Next(Prompts.Length)], Tokens: tokens, CutAfter: cutAfter, Sample: random.Next(2) == 0, Seed: random.Next());
        }).ToList();

        using var gate = new SemaphoreSlim(Concurrency);
        int cut = 0, ended = 0, refusals = 0;
        var runs = plans.Select(async plan =>
        {
            await gate.WaitAsync();
            try
            {
                using var hangUp = new CancellationTokenSource();
                // Refused (over the permits, which cancelled requests hold until the engine's next step drops them:
                // longer on a loaded box) is not a cut: like a client that backs off, try again until admitted, so
                // every stream is cut where its plan says.
                for (int attempt = 0; ; attempt++)
                {
                    // A negative cut point hangs up before any event: while the request is queued or prefilling.
                    if (plan.CutAfter < 0) hangUp.CancelAfter(TimeSpan.FromMilliseconds(plan.Seed % 20));
                    var outcome = plan.Api switch
                    {
                        0 => await TgiAsync(server, plan.Prompt, plan.Tokens, plan.Sample, plan.Seed, plan.CutAfter, hangUp),
                        1 => await OpenAIAsync(server, plan.Prompt, plan.Tokens, plan.Sample, plan.Seed, plan.CutAfter, hangUp),
                        _ => await GrpcAsync(grpc, plan.Prompt, plan.Tokens, plan.Sample, plan.Seed, plan.CutAfter, hangUp),
                    };
                    if (outcome == Outcome.Refused && attempt < 100)
                    {
                        Interlocked.Increment(ref refusals);
                        hangUp.CancelAfter(Timeout.InfiniteTimeSpan); // not while waiting to try again
                        await Task.Delay(20);
                        continue;
                    }
                    if (outcome == Outcome.Cut) Interlocked.Increment(ref cut);
                    if (outcome == Outcome.Ended) Interlocked.Increment(ref ended);
                    break;
                }
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(runs);
        Assert.True(cut > Streams / 2, $"only {cut} of {Streams} streams were cut, {ended} ran out, after {refusals} refusals (seed {seed})");

        // The engine drops a cancelled request at its next step: give it a moment, then every gauge must be at rest.
        var metrics = await SettledMetricsAsync(server);
        Assert.True(metrics["inkwell_permits_in_use"] == 0, $"permits still held: {metrics["inkwell_permits_in_use"]} (seed {seed})");
        Assert.True(metrics["inkwell_kv_blocks_free"] == metrics["inkwell_kv_blocks_total"],
            $"KV blocks leaked: {metrics["inkwell_kv_blocks_total"] - metrics["inkwell_kv_blocks_free"]} (seed {seed})");
        Assert.Equal(0, metrics["tgi_queue_size"]);
        Assert.Equal(0, metrics["tgi_batch_current_size"]);
        Assert.Equal(server.State.Service.Engine.BlockPool.BlockCount, server.State.Service.Engine.BlockPool.FreeBlockCount);
        output.WriteLine($"{Streams} streams, {cut} cut, {ended} ran out, {refusals} refusals retried (seed {seed}); afterwards {metrics["inkwell_kv_blocks_free"]}/{metrics["inkwell_kv_blocks_total"]} KV blocks free, {metrics["inkwell_permits_in_use"]} permits held");

        using var after = await server.Client.PostAsync("/generate", new StringContent(
            """{"inputs": "Once upon a time", "parameters": {"max_new_tokens": 8}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(200, (int)after.StatusCode);
    }

    private enum Outcome { Cut, Ended, Refused }

    /// <summary>Reads the stream, hanging up after <paramref name="cutAfter"/> events: cut before its end, ended, or refused.</summary>
    private static async Task<Outcome> TgiAsync(TestServer server, string prompt, int tokens, bool sample, int seed, int cutAfter, CancellationTokenSource hangUp)
    {
        string parameters = sample ? $$""", "do_sample": true, "temperature": 0.8, "seed": {{seed}}""" : "";
        string json = "{\"inputs\": " + System.Text.Json.JsonSerializer.Serialize(prompt) + ", \"parameters\": {\"max_new_tokens\": " + tokens + parameters + "}}";
        return await ReadSseAsync(server, "/generate_stream", json, cutAfter, hangUp);
    }

    private static async Task<Outcome> OpenAIAsync(TestServer server, string prompt, int tokens, bool sample, int seed, int cutAfter, CancellationTokenSource hangUp)
    {
        string json = $$"""{"model": "m", "prompt": {{System.Text.Json.JsonSerializer.Serialize(prompt)}}, "max_tokens": {{tokens}}, "stream": true, "temperature": {{(sample ? "0.8" : "0")}}, "seed": {{seed}}, "n": {{1 + seed % 2}}}""";
        return await ReadSseAsync(server, "/v1/completions", json, cutAfter, hangUp);
    }

    private static async Task<Outcome> ReadSseAsync(TestServer server, string path, string json, int cutAfter, CancellationTokenSource hangUp)
    {
        try
        {
            await using var stream = await SseStream.OpenAsync(server.Client, path, json, hangUp.Token);
            if (stream.Status == 429) return Outcome.Refused; // over the permits: nothing started
            Assert.Equal(200, stream.Status);
            for (int read = 0; ; read++)
            {
                if (read == cutAfter) return Outcome.Cut; // disposing the response hangs up mid-stream
                if (await stream.NextAsync(hangUp.Token) is null) return Outcome.Ended;
            }
        }
        catch (OperationCanceledException) when (hangUp.IsCancellationRequested)
        {
            return Outcome.Cut;
        }
    }

    private static async Task<Outcome> GrpcAsync(GenerationService.GenerationServiceClient grpc, string prompt, int tokens, bool sample, int seed, int cutAfter, CancellationTokenSource hangUp)
    {
        var parameters = new Parameters
        {
            Method = sample ? DecodingMethod.Sample : DecodingMethod.Greedy,
            Sampling = sample ? new SamplingParameters { Temperature = 0.8f, Seed = (ulong)seed } : null,
            Stopping = new StoppingCriteria { MaxNewTokens = (uint)tokens },
        };
        try
        {
            using var call = grpc.GenerateStream(new SingleGenerationRequest { Request = new GenerationRequest { Text = prompt }, Params = parameters },
                cancellationToken: hangUp.Token);
            for (int read = 0; ; read++)
            {
                if (read == cutAfter) return Outcome.Cut; // disposing the call cancels it
                if (!await call.ResponseStream.MoveNext(hangUp.Token)) return Outcome.Ended;
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && hangUp.IsCancellationRequested)
        {
            return Outcome.Cut;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            return Outcome.Refused;
        }
        catch (OperationCanceledException) when (hangUp.IsCancellationRequested)
        {
            return Outcome.Cut;
        }
    }

    /// <summary>The gauges once the server is at rest (or as they stand after 15 s, for the assertions to report).</summary>
    private static async Task<Dictionary<string, double>> SettledMetricsAsync(TestServer server)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var metrics = ParseGauges(await server.Client.GetStringAsync("/metrics"));
            bool rest = metrics["inkwell_permits_in_use"] == 0 && metrics["inkwell_kv_blocks_free"] == metrics["inkwell_kv_blocks_total"]
                && metrics["tgi_queue_size"] == 0 && metrics["tgi_batch_current_size"] == 0;
            if (rest || DateTime.UtcNow > deadline) return metrics;
            await Task.Delay(50);
        }
    }

    private static Dictionary<string, double> ParseGauges(string text)
    {
        var values = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || line.Contains('{')) continue;
            var parts = line.Split(' ');
            if (parts.Length == 2 && double.TryParse(parts[1], CultureInfo.InvariantCulture, out double v)) values[parts[0]] = v;
        }
        return values;
    }
}
