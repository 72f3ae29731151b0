using System.Diagnostics;
using Inkwell.Client.Http;
using Inkwell.Client.Tests.Fakes;
using Inkwell.Client.Tgi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static Inkwell.Client.Tests.Fakes.FakeInferenceServer;

namespace Inkwell.Client.Tests.Resilience;

public class ResilienceTests
{
    private static InferenceClientOptions Options(Uri baseAddress, int maxAttempts) => new()
    {
        BaseAddress = baseAddress,
        MaxAttempts = maxAttempts,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MaxRetryDelay = TimeSpan.FromMilliseconds(100),
    };

    private static Task OkAsync(HttpContext context) => WriteJsonAsync(context, """{"generated_text":"ok"}""");

    [Fact]
    public async Task RetriesOn503ThenSucceeds()
    {
        var calls = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate", context =>
            Interlocked.Increment(ref calls) <= 2 ? WriteErrorAsync(context, 503, "Model is loading", "unhealthy") : OkAsync(context)));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 3));

        var response = await client.GenerateAsync("x");

        Assert.Equal("ok", response.GeneratedText);
        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task StreamOpeningIsRetriedToo()
    {
        var calls = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate_stream", context =>
            Interlocked.Increment(ref calls) == 1
                ? WriteErrorAsync(context, 503, "Model is loading", "unhealthy")
                : WriteSseChunksAsync(context, TokenEvent(0, 1, "hi", generatedText: "hi", finishReason: "eos_token"))));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 2));

        var texts = new List<string>();
        await foreach (var e in client.GenerateStreamAsync(new GenerateRequest { Inputs = "x" })) texts.Add(e.Token.Text);

        Assert.Equal(["hi"], texts);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task RetryAfterFromTheServerIsHonoured()
    {
        var calls = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate", context =>
        {
            if (Interlocked.Increment(ref calls) > 1) return OkAsync(context);
            context.Response.Headers.RetryAfter = "1";
            return WriteErrorAsync(context, 429, "Model is overloaded", "overloaded");
        }));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 2) with { MaxRetryDelay = TimeSpan.FromSeconds(5) });

        var clock = Stopwatch.StartNew();
        Assert.Equal("ok", (await client.GenerateAsync("x")).GeneratedText);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {clock.Elapsed}, before the server's Retry-After of 1s");
    }

    [Fact]
    public async Task GivesUpAfterMaxAttemptsWithTheLastError()
    {
        var calls = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate", context =>
        {
            Interlocked.Increment(ref calls);
            return WriteErrorAsync(context, 429, "Model is overloaded", "overloaded");
        }));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 2));

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync("x"));

        Assert.Equal(2, calls);
        Assert.Equal((429, "overloaded", "Model is overloaded"), (ex.StatusCode!.Value, ex.ErrorType, ex.ErrorText));
        Assert.True(ex.IsTransient);
    }

    [Fact]
    public async Task DoesNotRetry422()
    {
        var calls = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate", context =>
        {
            Interlocked.Increment(ref calls);
            return WriteErrorAsync(context, 422, "Input validation error: `temperature` must be strictly positive", "validation");
        }));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 5));

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync("x"));

        Assert.Equal(1, calls);
        Assert.Equal(InferenceFailureKind.HttpError, ex.Kind);
        Assert.Equal(422, ex.StatusCode);
        Assert.Equal("validation", ex.ErrorType);
        Assert.Equal("Input validation error: `temperature` must be strictly positive", ex.ErrorText);
        Assert.False(ex.IsTransient);
        Assert.Contains("422", ex.Message);
    }

    [Fact]
    public async Task SlowAnswerTimesOutPerAttemptAndIsRetried()
    {
        var calls = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate", async context =>
        {
            Interlocked.Increment(ref calls);
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        }));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 2));

        // A second per attempt: long enough that each attempt reaches the handler on a loaded CI box (a 200 ms
        // attempt could time out while still connecting), far below the handler's 10 s.
        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<InferenceClientException>(() =>
            client.GenerateAsync(new GenerateRequest { Inputs = "x" }, new RequestOptions { Timeout = TimeSpan.FromSeconds(1) }));

        Assert.Equal(InferenceFailureKind.Timeout, ex.Kind);
        Assert.Equal(2, calls);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(9));
    }

    [Fact]
    public async Task DefaultTimeoutAppliesWhenTheRequestNamesNone()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate", context => Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted)));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 1) with { DefaultRequestTimeout = TimeSpan.FromMilliseconds(150) });

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync("x"));
        Assert.Equal(InferenceFailureKind.Timeout, ex.Kind);
    }

    [Fact]
    public async Task CallerCancellationIsNotATimeoutAndIsNeverSwallowed()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate", context => Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted)));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 3) with { ReturnEmptyOnFailure = true });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GenerateAsync("x", cancellationToken: cts.Token));
    }

    [Fact]
    public async Task EndpointStoppedThenRestartedServesTheSameClientAgain()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate", OkAsync));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 1));
        Assert.Equal("ok", (await client.GenerateAsync("x")).GeneratedText); // a pooled connection now exists

        await server.StopAsync();
        var down = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync("x"));
        Assert.Equal(InferenceFailureKind.Connection, down.Kind);
        Assert.True(down.IsTransient);

        await server.RestartAsync();
        Assert.Equal("ok", (await client.GenerateAsync("x")).GeneratedText);
    }

    [Fact]
    public async Task RetriesRideOutAnEndpointComingBack()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate", OkAsync));
        await server.StopAsync();
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 8) with { MaxRetryDelay = TimeSpan.FromMilliseconds(300) });

        var call = client.GenerateAsync("x");
        await Task.Delay(200);
        await server.RestartAsync();

        Assert.Equal("ok", (await call).GeneratedText);
    }

    [Fact]
    public async Task UnresolvableHostFailsWithinDnsTimeout()
    {
        var dnsTimeout = TimeSpan.FromSeconds(1);
        using var client = new TgiClient(Options(new Uri("http://no-such-host.invalid:8080/"), maxAttempts: 3) with { DnsTimeout = dnsTimeout });

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync("x"));

        Assert.Equal(InferenceFailureKind.NameResolution, ex.Kind);
        Assert.Contains("no-such-host.invalid", ex.Message);
        Assert.False(ex.IsTransient);
        Assert.True(clock.Elapsed < dnsTimeout + TimeSpan.FromMilliseconds(500), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task HangingResolverIsCutOffAtDnsTimeoutAndNotRetried()
    {
        var lookups = 0;
        var options = Options(new Uri("http://hangs.example:8080/"), maxAttempts: 3) with
        {
            DnsTimeout = TimeSpan.FromMilliseconds(300),
            // ignores its token on purpose, as a stuck system resolver would
            HostResolver = (_, _) =>
            {
                Interlocked.Increment(ref lookups);
                return new TaskCompletionSource<System.Net.IPAddress[]>().Task;
            },
        };
        using var client = new TgiClient(options);

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync("x"));

        Assert.Equal(InferenceFailureKind.NameResolution, ex.Kind);
        Assert.Contains("'hangs.example'", ex.Message);
        Assert.Contains("DnsTimeout", ex.Message);
        Assert.Equal(1, lookups);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task ConstructingAClientTouchesNoNetwork()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate", OkAsync));
        using var transport = new InferenceTransport(Options(server.BaseAddress, maxAttempts: 1));
        Assert.False(transport.IsConnected);

        await transport.SendAsync(HttpMethod.Post, "generate", () => null, ClientJsonContext.Default.GenerateResponse, null, CancellationToken.None);
        Assert.True(transport.IsConnected);
    }

    [Fact]
    public async Task ReturnEmptyOnFailureRecordsTheErrorInsteadOfThrowing()
    {
        await using var server = await StartAsync(app =>
        {
            app.MapPost("/generate", context => WriteErrorAsync(context, 422, "Input validation error: bad", "validation"));
            app.MapPost("/generate_stream", context => WriteSseChunksAsync(context, TokenEvent(0, 1, "a"),
                "data:{\"error\":\"out of blocks\",\"error_type\":\"generation\"}\n\n"));
        });
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 1) with { ReturnEmptyOnFailure = true });

        var response = await client.GenerateAsync("x");
        Assert.Equal("", response.GeneratedText);
        Assert.Equal((InferenceFailureKind.HttpError, 422, "validation"), (response.Error!.Kind, response.Error.StatusCode!.Value, response.Error.ErrorType));

        var events = new List<StreamResponse>();
        await foreach (var e in client.GenerateStreamAsync(new GenerateRequest { Inputs = "x" })) events.Add(e);
        Assert.Equal(2, events.Count);
        Assert.Null(events[0].Error);
        Assert.Equal((InferenceFailureKind.StreamError, "out of blocks"), (events[1].Error!.Kind, events[1].Error!.Message));

        await server.StopAsync();
        var unreachable = await client.GenerateAsync("x");
        Assert.Equal(InferenceFailureKind.Connection, unreachable.Error!.Kind);
    }

    [Fact]
    public async Task GenerateManyBoundsConcurrencyAndKeepsOrder()
    {
        var inFlight = 0;
        var maxInFlight = 0;
        await using var server = await StartAsync(app => app.MapPost("/generate", async context =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            try
            {
                var inputs = (await ReadJsonAsync(context)).GetProperty("inputs").GetString()!;
                // later requests answer sooner, so completion order differs from request order
                await Task.Delay(80 - 5 * int.Parse(inputs), context.RequestAborted);
                await WriteJsonAsync(context, $$"""{"generated_text":"echo {{inputs}}"}""");
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        }));
        using var client = new TgiClient(Options(server.BaseAddress, maxAttempts: 1));
        var requests = Enumerable.Range(0, 12).Select(i => new GenerateRequest { Inputs = i.ToString() });

        var responses = await client.GenerateManyAsync(requests, maxConcurrency: 3);

        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"echo {i}"), responses.Select(r => r.GeneratedText));
        Assert.InRange(maxInFlight, 2, 3); // bounded, yet actually concurrent
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }
}
