using System.Diagnostics;
using System.Text.Json;
using CsCheck;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.OpenAI;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>The fuzzed server: the embedded model, with a real chat template when ../shared has one (so chat bodies reach generation).</summary>
public sealed class FuzzServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await TestServer.StartAsync(new ServerOptions
    {
        GrpcPort = 0,
        ChatTemplatePath = RepoPaths.HasShared ? RepoPaths.InShared("templates", TemplatedServer.TemplateFile) : null,
    });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// Property: for any body on any JSON route the answer is a 2xx (an event stream of JSON events when streaming) or
/// a 4xx whose body is an error in the route's API shape; never a 5xx, never slower than <see cref="Limit"/>.
/// CI runs <see cref="CiIterations"/> cases per API; INKWELL_FUZZ_ITERATIONS (bench/fuzz.sh) runs more.
/// A failure prints CsCheck's seed and the smallest failing case it shrank to.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class BodyFuzzTests(FuzzServer fixture, ITestOutputHelper output)
{
    public const int CiIterations = 1200;
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public static long Iterations => long.TryParse(Environment.GetEnvironmentVariable("INKWELL_FUZZ_ITERATIONS"), out long n) && n > 0 ? n : CiIterations;

    /// <summary>INKWELL_FUZZ_SEED replays a reported failure.</summary>
    private static string? Seed => Environment.GetEnvironmentVariable("INKWELL_FUZZ_SEED") is { Length: > 0 } s ? s : null;

    [Fact]
    public Task TgiRoutes_AnswerEveryBodyWithA2xxOrAShaped4xx() => FuzzAsync(FuzzCases.Tgi);

    [Fact]
    public Task OpenAIRoutes_AnswerEveryBodyWithA2xxOrAShaped4xx() => FuzzAsync(FuzzCases.OpenAI);

    private async Task FuzzAsync(Gen<FuzzCase> cases)
    {
        var statuses = new StatusTally();
        await cases.SampleAsync(async c =>
        {
            if (await ViolationAsync(fixture.Server.Client, c, statuses) is { } violation) throw new Xunit.Sdk.XunitException($"{violation}\n  case: {c}");
        }, iter: Iterations, threads: 4, seed: Seed);
        output.WriteLine($"{Iterations} cases: {statuses.Success} 2xx, {statuses.ClientError} 4xx, no 5xx, none over {Limit.TotalSeconds} s");
        // A fuzzer that only ever meets one refusal tests nothing: both outcomes must be common.
        Assert.True(statuses.Success > Iterations / 20, $"only {statuses.Success} of {Iterations} cases got a 2xx");
        Assert.True(statuses.ClientError > Iterations / 20, $"only {statuses.ClientError} of {Iterations} cases got a 4xx");
    }

    /// <summary>How many answers were 2xx and 4xx (shared by the fuzzing threads).</summary>
    internal sealed class StatusTally
    {
        private int _success, _clientError;
        public int Success => Volatile.Read(ref _success);
        public int ClientError => Volatile.Read(ref _clientError);

        public void Add(int status)
        {
            if (status is >= 200 and < 300) Interlocked.Increment(ref _success);
            else if (status is >= 400 and < 500) Interlocked.Increment(ref _clientError);
        }
    }

    /// <summary>Null when the invariant holds, else what broke it.</summary>
    internal static async Task<string?> ViolationAsync(HttpClient client, FuzzCase c, StatusTally statuses)
    {
        var clock = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(Limit);
        var content = new ByteArrayContent(c.Body);
        if (c.ContentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", c.ContentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, c.Path) { Content = content };
        int status;
        string body;
        string? mediaType;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            status = (int)response.StatusCode;
            mediaType = response.Content.Headers.ContentType?.MediaType;
            body = await response.Content.ReadAsStringAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return $"no complete answer within {Limit.TotalSeconds} s";
        }
        catch (HttpRequestException e)
        {
            return $"the connection failed: {e.Message}";
        }
        statuses.Add(status);
        if (clock.Elapsed > Limit) return $"took {clock.Elapsed.TotalSeconds:F1} s";
        var shape = ApiShape.Of(c.Path);
        if (status >= 500) return $"HTTP {status}: {ApiShape.Clip(body)}";
        if (status >= 400) return ApiShape.ErrorProblem(shape, body) is { } problem ? $"HTTP {status}: {problem}" : null;
        if (status < 200 || status >= 300) return $"unexpected HTTP {status}";
        return mediaType == "text/event-stream" ? EventStreamProblem(body) : JsonProblem(body);
    }

    private static string? JsonProblem(string body)
    {
        try
        {
            using var _ = JsonDocument.Parse(body);
            return null;
        }
        catch (JsonException e)
        {
            return $"a 2xx body that is not JSON ({e.Message}): {ApiShape.Clip(body)}";
        }
    }

    private static string? EventStreamProblem(string body)
    {
        foreach (var block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            if (!block.StartsWith("data:", StringComparison.Ordinal)) return $"an event that is not data: {ApiShape.Clip(block)}";
            string data = block[5..].TrimStart();
            if (data != "[DONE]" && JsonProblem(data) is { } problem) return problem;
        }
        return null;
    }
}
