using Inkwell.Client.OpenAI;
using Inkwell.Client.Tests.Fakes;
using Inkwell.Client.Tests.OpenAI;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.Tests.ChatClient;

public class InkwellChatClientTests
{
    [Fact]
    public async Task GetResponseMapsOptionsAndAnswer()
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var response = await chat.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "Hi")],
            new ChatOptions { Instructions = "Be brief.", Temperature = 0.5f, MaxOutputTokens = 3, StopSequences = ["\n"], Seed = 7 });

        var sent = Assert.Single(routes.Requests);
        Assert.Equal("acme/tiny", sent.GetProperty("model").GetString());
        Assert.Equal(["system", "user"], sent.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("Be brief.", sent.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(0.5, sent.GetProperty("temperature").GetDouble());
        Assert.Equal(3, sent.GetProperty("max_tokens").GetInt32());
        Assert.Equal(7, sent.GetProperty("seed").GetInt64());
        Assert.Equal("\n", sent.GetProperty("stop")[0].GetString());

        Assert.Equal("Hello!", response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(("chatcmpl-1", "acme/tiny"), (response.ResponseId, response.ModelId));
        Assert.Equal((7L, 3L, 10L), (response.Usage!.InputTokenCount!.Value, response.Usage.OutputTokenCount!.Value, response.Usage.TotalTokenCount!.Value));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1732233600), response.CreatedAt);
    }

    [Fact]
    public async Task GetStreamingResponseYieldsUpdatesThatAddUp()
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], new ChatOptions { ModelId = "acme/other" }))
            updates.Add(update);

        Assert.Equal("acme/other", routes.Requests.Single().GetProperty("model").GetString());
        Assert.Equal("Hello!", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        var combined = updates.ToChatResponse();
        Assert.Equal("Hello!", combined.Text);
        Assert.Equal("chatcmpl-2", combined.ResponseId);
    }

    [Fact]
    public void GetServiceAnswersMetadataAndItself()
    {
        using var openAI = new OpenAIClient(new Uri("http://127.0.0.1:1/"));
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var metadata = chat.GetService<ChatClientMetadata>()!;
        Assert.Equal(("inkwell", "acme/tiny"), (metadata.ProviderName, metadata.DefaultModelId));
        Assert.Equal(new Uri("http://127.0.0.1:1/"), metadata.ProviderUri);
        Assert.Same(chat, chat.GetService<IChatClient>());
        Assert.Same(openAI, chat.GetService<OpenAIClient>());
        Assert.Null(chat.GetService<IChatClient>("some key"));
    }

    [Fact]
    public async Task NonTextContentIsRejectedNotDropped()
    {
        using var openAI = new OpenAIClient(new Uri("http://127.0.0.1:1/"));
        using IChatClient chat = openAI.AsChatClient("acme/tiny");
        var message = new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1 }, "image/png")]);

        var ex = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync([message]));
        Assert.Contains("DataContent", ex.Message);
    }
}
