using System.Text.Json;
using Inkwell.Client.Tests.Fakes;
using Inkwell.Client.Tgi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static Inkwell.Client.Tests.Fakes.FakeInferenceServer;

namespace Inkwell.Client.Tests.Tgi;

public class TgiClientTests
{
    private static TgiClient ClientFor(FakeInferenceServer server, int maxAttempts = 1) =>
        new(new InferenceClientOptions { BaseAddress = server.BaseAddress, MaxAttempts = maxAttempts, RetryBaseDelay = TimeSpan.FromMilliseconds(10) });

    [Fact]
    public async Task GenerateSendsSnakeCaseWithoutNullsAndParsesDetails()
    {
        JsonElement seen = default;
        await using var server = await StartAsync(app => app.MapPost("/generate", async context =>
        {
            seen = await ReadJsonAsync(context);
            await WriteJsonAsync(context, """
                {"generated_text":" world","details":{"finish_reason":"length","generated_tokens":2,"seed":42,
                 "prefill":[{"id":1,"text":"<s>","logprob":null}],
                 "tokens":[{"id":3186,"text":" wor","logprob":-0.25,"special":false},{"id":29881,"text":"ld","logprob":-0.5,"special":false}]}}
                """);
        }));
        using var client = ClientFor(server);

        var response = await client.GenerateAsync("Hello", new GenerateParameters { MaxNewTokens = 2, Details = true, Stop = ["\n"], Grammar = Grammar.Regex("[a-z ]+") });

        Assert.Equal("Hello", seen.GetProperty("inputs").GetString());
        var parameters = seen.GetProperty("parameters");
        Assert.Equal(2, parameters.GetProperty("max_new_tokens").GetInt32());
        Assert.Equal("\n", parameters.GetProperty("stop")[0].GetString());
        Assert.Equal("regex", parameters.GetProperty("grammar").GetProperty("type").GetString());
        Assert.Equal("[a-z ]+", parameters.GetProperty("grammar").GetProperty("value").GetString());
        Assert.False(parameters.TryGetProperty("temperature", out _), "null parameters must be left out so the server applies its defaults");

        Assert.Equal(" world", response.GeneratedText);
        Assert.Null(response.Error);
        var details = response.Details!;
        Assert.Equal(("length", 2, 42UL), (details.FinishReason, details.GeneratedTokens, details.Seed!.Value));
        Assert.Null(details.Prefill![0].Logprob);
        Assert.Equal([3186, 29881], details.Tokens!.Select(t => t.Id));
        Assert.Equal(-0.25f, details.Tokens![0].Logprob);
    }

    [Fact]
    public async Task StreamParsesManyEventsPerChunkAndEventsSplitAcrossChunks()
    {
        var first = TokenEvent(0, 10, "Once");
        var second = TokenEvent(1, 11, " upon");
        var third = TokenEvent(2, 12, " a");
        var last = TokenEvent(3, 13, " time", generatedText: "Once upon a time", finishReason: "length");
        await using var server = await StartAsync(app => app.MapPost("/generate_stream", context =>
            WriteSseChunksAsync(context,
                first + second,                    // two events in one chunk
                third[..9], third[9..] + last[..30], // split mid-event, and a chunk holding an end and a start
                last[30..])));
        using var client = ClientFor(server);

        var events = new List<StreamResponse>();
        await foreach (var e in client.GenerateStreamAsync(new GenerateRequest { Inputs = "x" }))
            events.Add(e);

        Assert.Equal([0, 1, 2, 3], events.Select(e => e.Index));
        Assert.Equal(["Once", " upon", " a", " time"], events.Select(e => e.Token.Text));
        Assert.All(events.Take(3), e => Assert.Null(e.GeneratedText));
        Assert.Equal("Once upon a time", events[3].GeneratedText);
        Assert.Equal(("length", 4, 3), (events[3].Details!.FinishReason, events[3].Details!.GeneratedTokens, events[3].Details!.InputLength!.Value));
    }

    [Fact]
    public async Task ErrorEventMidStreamThrowsAfterTheTokensBeforeIt()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate_stream", context =>
            WriteSseChunksAsync(context, TokenEvent(0, 1, "a"), TokenEvent(1, 2, "b"),
                "data:{\"error\":\"Request failed during generation: out of blocks\",\"error_type\":\"generation\"}\n\n")));
        using var client = ClientFor(server);

        var received = new List<string>();
        var ex = await Assert.ThrowsAsync<InferenceClientException>(async () =>
        {
            await foreach (var e in client.GenerateStreamAsync(new GenerateRequest { Inputs = "x" }))
                received.Add(e.Token.Text);
        });

        Assert.Equal(["a", "b"], received);
        Assert.Equal(InferenceFailureKind.StreamError, ex.Kind);
        Assert.Equal("generation", ex.ErrorType);
        Assert.Equal("Request failed during generation: out of blocks", ex.ErrorText);
    }

    [Fact]
    public async Task StreamRejectedUpFrontCarriesStatusAndType()
    {
        await using var server = await StartAsync(app => app.MapPost("/generate_stream", context =>
            WriteErrorAsync(context, 422, "Input validation error: `inputs` must have less than 4096 tokens", "validation")));
        using var client = ClientFor(server, maxAttempts: 3);

        var ex = await Assert.ThrowsAsync<InferenceClientException>(async () =>
        {
            await foreach (var _ in client.GenerateStreamAsync(new GenerateRequest { Inputs = "x" })) { }
        });
        Assert.Equal((422, "validation"), (ex.StatusCode!.Value, ex.ErrorType));
    }

    [Fact]
    public async Task TokenizeInfoAndHealth()
    {
        var healthy = true;
        await using var server = await StartAsync(app =>
        {
            app.MapPost("/tokenize", context => WriteJsonAsync(context,
                """[{"id":1,"text":"<s>","start":0,"stop":0},{"id":15043,"text":"Hello","start":0,"stop":5}]"""));
            app.MapGet("/info", context => WriteJsonAsync(context, """
                {"model_id":"stories260K","model_sha":null,"model_pipeline_tag":"text-generation","max_concurrent_requests":128,
                 "max_best_of":2,"max_stop_sequences":4,"max_input_tokens":255,"max_total_tokens":256,"validation_workers":2,
                 "max_client_batch_size":4,"router":"inkwell","version":"0.1.0","sha":null,"docker_label":null}
                """));
            app.MapGet("/health", context =>
            {
                context.Response.StatusCode = healthy ? 200 : 503;
                return Task.CompletedTask;
            });
        });
        using var client = ClientFor(server, maxAttempts: 3);

        var tokens = await client.TokenizeAsync("Hello");
        Assert.Equal([(1, "<s>", 0, 0), (15043, "Hello", 0, 5)], tokens.Select(t => (t.Id, t.Text, t.Start, t.Stop)));

        var info = await client.InfoAsync();
        Assert.Equal(("stories260K", 256, 255, "inkwell"), (info.ModelId, info.MaxTotalTokens!.Value, info.MaxInputTokens!.Value, info.Router));

        Assert.True(await client.HealthAsync());
        healthy = false;
        Assert.False(await client.HealthAsync());
        await server.StopAsync();
        Assert.False(await client.HealthAsync());
    }
}
