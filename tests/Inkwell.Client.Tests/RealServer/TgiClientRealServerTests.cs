using Inkwell.Client.Tgi;
using Inkwell.Server.Hosting;

namespace Inkwell.Client.Tests.RealServer;

/// <summary>The TGI client against a real Inkwell server in-process: the wire format both sides agree on, and the
/// golden greedy text of the embedded model (from its authors' reference implementation) as the expected answer.</summary>
public sealed class TgiClientRealServerTests : IAsyncLifetime
{
    private const string Prompt = "Once upon a time";
    private InkwellProcessServer _server = null!;
    private TgiClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await InkwellProcessServer.StartAsync(new ServerOptions { ModelId = "test/stories260k", MaxTotalTokens = 256 });
        _client = new TgiClient(new InferenceClientOptions
        {
            BaseAddress = _server.BaseAddress,
            MaxAttempts = 4,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            DefaultRequestTimeout = TimeSpan.FromSeconds(60),
        });
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    private static string GoldenContinuation => InkwellProcessServer.GoldenGreedy[Prompt.Length..];

    [Fact]
    public async Task GreedyGenerateContinuesWithTheGoldenText()
    {
        var response = await _client.GenerateAsync(Prompt, new GenerateParameters { MaxNewTokens = 40, Details = true });

        Assert.Null(response.Error);
        Assert.True(response.GeneratedText.Length > 80, response.GeneratedText);
        Assert.StartsWith(response.GeneratedText, GoldenContinuation);
        Assert.Equal("length", response.Details!.FinishReason);
        Assert.Equal(40, response.Details.GeneratedTokens);
        Assert.Equal(40, response.Details.Tokens!.Count);
    }

    [Fact]
    public async Task GenerateStreamYieldsTheGoldenTokensAndEndsWithTheFullText()
    {
        var events = new List<StreamResponse>();
        await foreach (var e in _client.GenerateStreamAsync(new GenerateRequest { Inputs = Prompt, Parameters = new GenerateParameters { MaxNewTokens = 30, Details = true } }))
            events.Add(e);

        Assert.Equal(30, events.Count);
        Assert.All(events[..^1], e => Assert.Null(e.GeneratedText));
        var last = events[^1];
        Assert.Equal(string.Concat(events.Select(e => e.Token.Text)), last.GeneratedText);
        Assert.StartsWith(last.GeneratedText!, GoldenContinuation);
        Assert.Equal(30, last.Details!.GeneratedTokens);
        // Consecutive indices, one event per token (the base, 0 or 1, is the server's business).
        Assert.Equal(Enumerable.Range(events[0].Index, 30), events.Select(e => e.Index));
    }

    [Fact]
    public async Task TokenizeReturnsBosAndSpansThatCoverThePrompt()
    {
        var tokens = await _client.TokenizeAsync(Prompt);

        // Llama SentencePiece: BOS (id 1, empty span) then the prompt's pieces, 5 in all as TGI's x-prompt-tokens reports.
        Assert.Equal(5, tokens.Count);
        Assert.Equal(1, tokens[0].Id);
        Assert.Equal(tokens[0].Start, tokens[0].Stop);
        Assert.Equal(Prompt, string.Concat(tokens.Skip(1).Select(t => Prompt[t.Start..t.Stop])));
        for (int i = 2; i < tokens.Count; i++) Assert.Equal(tokens[i - 1].Stop, tokens[i].Start);
    }

    [Fact]
    public async Task InfoReportsTheServedModelAndItsLimits()
    {
        var info = await _client.InfoAsync();

        Assert.Equal("test/stories260k", info.ModelId);
        Assert.Equal(256, info.MaxTotalTokens);
        Assert.Equal(255, info.MaxInputTokens);
        Assert.Equal("inkwell", info.Router);
    }

    [Fact]
    public async Task HealthIsTrueWhileServingAndFalseOnceStopped()
    {
        Assert.True(await _client.HealthAsync());
        await _server.StopAsync();
        Assert.False(await _client.HealthAsync());
    }

    [Fact]
    public async Task TheSameClientWorksAfterTheServerRestartsOnTheSamePort()
    {
        var before = await _client.GenerateAsync(Prompt, new GenerateParameters { MaxNewTokens = 10 });
        int port = _server.Port;

        await _server.StopAsync();
        await Assert.ThrowsAsync<InferenceClientException>(() => _client.TokenizeAsync(Prompt, new RequestOptions { Timeout = TimeSpan.FromSeconds(5) }));
        await _server.RestartAsync();

        Assert.Equal(port, _server.Port);
        var after = await _client.GenerateAsync(Prompt, new GenerateParameters { MaxNewTokens = 10 });
        Assert.Null(after.Error);
        Assert.Equal(before.GeneratedText, after.GeneratedText);
        Assert.StartsWith(after.GeneratedText, GoldenContinuation);
    }

    [Fact]
    public async Task AnUnresolvableHostFailsFastWithinDnsTimeout()
    {
        var dnsTimeout = TimeSpan.FromSeconds(2);
        using var client = new TgiClient(new InferenceClientOptions
        {
            BaseAddress = new Uri("http://inkwell-no-such-host.invalid:8080/"),
            DnsTimeout = dnsTimeout,
            MaxAttempts = 3,
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.GenerateAsync(Prompt));

        Assert.Equal(InferenceFailureKind.NameResolution, ex.Kind);
        // Once, not once per attempt; a little slack for a loaded machine.
        Assert.True(clock.Elapsed < dnsTimeout + TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }
}
