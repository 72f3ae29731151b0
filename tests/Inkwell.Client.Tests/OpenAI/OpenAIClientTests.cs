using Inkwell.Client.OpenAI;
using Inkwell.Client.Tests.Fakes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Client.Tests.OpenAI;

public class OpenAIClientTests
{
    private static ChatCompletionRequest Chat => new()
    {
        Model = "acme/tiny",
        Messages = [ChatCompletionMessage.System("Be brief."), ChatCompletionMessage.User("Hi")],
        MaxTokens = 3,
    };

    [Fact]
    public async Task ChatCompletionSendsTheRequestAndParsesTheAnswer()
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var client = new OpenAIClient(server.BaseAddress);

        var response = await client.ChatCompletionAsync(Chat);

        var sent = Assert.Single(routes.Requests);
        Assert.False(sent.GetProperty("stream").GetBoolean());
        Assert.Equal(3, sent.GetProperty("max_tokens").GetInt32());
        Assert.Equal("system", sent.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal("Hi", sent.GetProperty("messages")[1].GetProperty("content").GetString());

        Assert.Equal(("chatcmpl-1", "chat.completion", "acme/tiny", "0.1.0-native"), (response.Id, response.Object, response.Model, response.SystemFingerprint));
        var choice = Assert.Single(response.Choices);
        Assert.Equal(("assistant", "Hello!", "length"), (choice.Message.Role, choice.Message.Content, choice.FinishReason));
        Assert.Equal((7, 3, 10), (response.Usage!.PromptTokens, response.Usage.CompletionTokens, response.Usage.TotalTokens));
    }

    [Fact]
    public async Task ChatStreamStopsAtDone()
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var client = new OpenAIClient(server.BaseAddress);

        var chunks = new List<ChatCompletionChunk>();
        await foreach (var chunk in client.ChatCompletionStreamAsync(Chat)) chunks.Add(chunk);

        Assert.True(Assert.Single(routes.Requests).GetProperty("stream").GetBoolean());
        Assert.Equal("Hello!", string.Concat(chunks.Select(c => c.Choices[0].Delta.Content)));
        Assert.Equal("assistant", chunks[0].Choices[0].Delta.Role);
        Assert.Equal([null, null, "stop"], chunks.Select(c => c.Choices[0].FinishReason));
    }

    [Fact]
    public async Task CompletionsAndModels()
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var client = new OpenAIClient(server.BaseAddress);
        var request = new CompletionRequest { Model = "acme/tiny", Prompt = "Once", MaxTokens = 3 };

        var response = await client.CompletionAsync(request);
        Assert.Equal((" upon a time", "length"), (response.Choices[0].Text, response.Choices[0].FinishReason));
        Assert.Equal("Once", routes.Requests.Single().GetProperty("prompt").GetString());

        var streamed = new List<string>();
        await foreach (var part in client.CompletionStreamAsync(request)) streamed.Add(part.Choices[0].Text);
        Assert.Equal([" upon", " a time"], streamed);

        var models = await client.ListModelsAsync();
        var model = Assert.Single(models.Data);
        Assert.Equal(("acme/tiny", "acme"), (model.Id, model.OwnedBy));
    }

    [Fact]
    public async Task OpenAIStyleErrorBodiesAreReadToo()
    {
        await using var server = await FakeInferenceServer.StartAsync(app => app.MapPost("/v1/chat/completions", context =>
            FakeInferenceServer.WriteJsonAsync(context, """{"error":{"message":"model 'x' not found","type":"invalid_request_error","code":null}}""", 404)));
        using var client = new OpenAIClient(server.BaseAddress);

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.ChatCompletionAsync(Chat));
        Assert.Equal((404, "invalid_request_error", "model 'x' not found"), (ex.StatusCode!.Value, ex.ErrorType, ex.ErrorText));
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task NonJsonErrorBodiesAreKeptAsText()
    {
        await using var server = await FakeInferenceServer.StartAsync(app => app.MapGet("/v1/models", context =>
        {
            context.Response.StatusCode = 500;
            return context.Response.WriteAsync("upstream exploded");
        }));
        using var client = new OpenAIClient(new InferenceClientOptions { BaseAddress = server.BaseAddress, MaxAttempts = 1 });

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.ListModelsAsync());
        Assert.Equal((500, "upstream exploded", true), (ex.StatusCode!.Value, ex.ErrorText, ex.IsTransient));
    }

    [Fact]
    public async Task UnparsableSuccessBodyIsAnInvalidResponseNamingTheEndpoint()
    {
        await using var server = await FakeInferenceServer.StartAsync(app => app.MapGet("/v1/models", context => context.Response.WriteAsync("<html>proxy login</html>")));
        using var client = new OpenAIClient(new InferenceClientOptions { BaseAddress = server.BaseAddress, MaxAttempts = 3 });

        var ex = await Assert.ThrowsAsync<InferenceClientException>(() => client.ListModelsAsync());
        Assert.Equal(InferenceFailureKind.InvalidResponse, ex.Kind);
        Assert.Equal($"{server.BaseAddress}v1/models", ex.Error.Endpoint);
        Assert.Contains("<html>proxy login</html>", ex.Message);
        Assert.False(ex.IsTransient);
    }

    [Fact]
    public async Task ApiKeyIsSentAsBearerToken()
    {
        string? authorization = null;
        await using var server = await FakeInferenceServer.StartAsync(app => app.MapGet("/v1/models", context =>
        {
            authorization = context.Request.Headers.Authorization;
            return FakeInferenceServer.WriteJsonAsync(context, """{"object":"list","data":[]}""");
        }));
        using var client = new OpenAIClient(new InferenceClientOptions { BaseAddress = server.BaseAddress, ApiKey = "sk-test" });

        Assert.Empty((await client.ListModelsAsync()).Data);
        Assert.Equal("Bearer sk-test", authorization);
    }
}
