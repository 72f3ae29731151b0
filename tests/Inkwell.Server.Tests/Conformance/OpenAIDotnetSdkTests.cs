using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Grammar;
using Inkwell.Server.Tests.OpenAI;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AIChatRole = Microsoft.Extensions.AI.ChatRole;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using ChatMessage = OpenAI.Chat.ChatMessage;
using ChatResponseFormat = OpenAI.Chat.ChatResponseFormat;

namespace Inkwell.Server.Tests.Conformance;

/// <summary>
/// The official OpenAI .NET SDK (the client our C# users hold) and Microsoft.Extensions.AI over it, against a real
/// in-process server: the SDK's own parsing is the check on our wire format. Expected texts come from the model's
/// golden greedy continuation (llama2.c's, models/stories260K) where a prompt reaches the model as is; through the
/// chat template, the SDK's answers must agree with each other and with the server's own counts.
/// </summary>
public sealed class OpenAIDotnetSdkTests(SharedServer plain, TemplatedServer templated) : IClassFixture<SharedServer>, IClassFixture<TemplatedServer>
{
    private const string Prompt = "Once upon a time";
    private const string Question = "Tell me a story about a dog.";

    private static OpenAIClientOptions Options(TestServer server) => new()
    {
        Endpoint = new Uri(server.Client.BaseAddress!, "v1"),
        NetworkTimeout = TimeSpan.FromSeconds(60),
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a refusal must surface, not be retried
    };

    private static ChatClient Chat(TestServer server) => new(server.State.ModelId, new ApiKeyCredential("unused"), Options(server));

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    [SharedFact]
    public async Task ChatCompletionThroughTheTemplate()
    {
        var server = templated.Server!;
        ChatCompletion completion = await Chat(server).CompleteChatAsync([new SystemChatMessage("You tell short stories."), new UserChatMessage(Question)], Greedy(20));
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal(server.State.ModelId, completion.Model);
        Assert.NotEmpty(completion.Content.Single().Text);
        Assert.Equal(20, completion.Usage.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.True(completion.Usage.InputTokenCount > 10, $"prompt tokens {completion.Usage.InputTokenCount}: the template's markup counts");
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
        Assert.True(completion.CreatedAt > DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    [SharedFact]
    public async Task StreamingWithUsageMatchesTheUnaryAnswer()
    {
        var client = Chat(templated.Server!);
        ChatMessage[] messages = [new UserChatMessage(Question)];
        ChatCompletion unary = await client.CompleteChatAsync(messages, Greedy(24));

        var text = new System.Text.StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (StreamingChatCompletionUpdate update in client.CompleteChatStreamingAsync(messages, Greedy(24)))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }
        Assert.True(updates > 3, $"{updates} updates: not streamed");
        Assert.Equal(unary.Content.Single().Text, text.ToString());
        Assert.Equal(unary.FinishReason, finish);
        // The SDK asks for stream_options.include_usage itself; the last chunk carries the same counts as the unary answer.
        Assert.NotNull(usage);
        Assert.Equal(unary.Usage.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(unary.Usage.OutputTokenCount, usage.OutputTokenCount);
    }

    [SharedFact]
    public async Task JsonSchemaResponseFormatGivesConformingJson()
    {
        const string schema = """
            {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 1, "maximum": 99}},
             "required": ["name", "age"], "additionalProperties": false}
            """;
        var options = Greedy(64);
        options.ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(schema), jsonSchemaIsStrict: true);
        ChatCompletion completion = await Chat(templated.Server!).CompleteChatAsync([new UserChatMessage("Describe a person as JSON.")], options);
        string json = completion.Content.Single().Text;
        Assert.Null(JsonSchemaCheck.Validate(json, schema));
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
    }

    [SharedFact]
    public async Task LogprobsArriveWithTheirAlternatives()
    {
        var options = Greedy(10);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        ChatCompletion completion = await Chat(templated.Server!).CompleteChatAsync([new UserChatMessage(Question)], options);
        var tokens = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount, tokens.Count);
        Assert.Equal(completion.Content.Single().Text, string.Concat(tokens.Select(t => t.Token)));
        foreach (var token in tokens)
        {
            Assert.Equal(3, token.TopLogProbabilities.Count);
            // Greedy: the chosen token is the most likely one, with the same log-probability.
            var best = token.TopLogProbabilities.MaxBy(t => t.LogProbability)!;
            Assert.Equal(token.Token, best.Token);
            Assert.Equal(token.LogProbability, best.LogProbability, 5);
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(System.Text.Encoding.UTF8.GetBytes(token.Token), token.Utf8Bytes!.Value.ToArray());
        }
    }

    [SharedFact]
    public async Task ARefusalIsAClientResultExceptionWithOurStatusAndMessage()
    {
        var options = Greedy(10);
        options.Temperature = 5;
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(templated.Server!).CompleteChatAsync([new UserChatMessage(Question)], options));
        Assert.Equal(400, e.Status);
        Assert.Contains("Invalid 'temperature': Expected a value between 0 and 2, but got 5 instead.", e.Message);

        // The raw body is ours, in OpenAI's error shape.
        var body = JsonNode.Parse(e.GetRawResponse()!.Content.ToString())!;
        Assert.Equal("temperature", body["error"]!["param"]!.GetValue<string>());
        Assert.Equal("invalid_request_error", body["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task AChatWithoutATemplateIsRefusedClearly()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(plain.Server).CompleteChatAsync([new UserChatMessage(Question)], Greedy(5)));
        Assert.Equal(400, e.Status);
        Assert.Contains("--chat-template", e.Message);
    }

    /// <summary>
    /// The SDK has no public client for the legacy /v1/completions (2.15.0 keeps LegacyCompletionClient internal), so
    /// the request goes through the SDK's own pipeline: its authentication, headers and error classification.
    /// </summary>
    [Fact]
    public async Task CompletionsThroughTheSdkPipelineFollowTheGoldenText()
    {
        var server = plain.Server;
        var client = new OpenAIClient(new ApiKeyCredential("unused"), Options(server));
        using PipelineMessage message = client.Pipeline.CreateMessage();
        message.Request.Method = "POST";
        message.Request.Uri = new Uri(server.Client.BaseAddress!, "v1/completions");
        message.Request.Headers.Set("Content-Type", "application/json");
        message.Request.Content = BinaryContent.Create(BinaryData.FromObjectAsJson(
            new { model = server.State.ModelId, prompt = Prompt, max_tokens = 40, temperature = 0 }));
        await client.Pipeline.SendAsync(message);
        Assert.Equal(200, message.Response!.Status);
        var body = JsonNode.Parse(message.Response.Content.ToString())!;
        var choice = body["choices"]!.AsArray().Single()!;
        Assert.StartsWith(choice["text"]!.GetValue<string>(), server.GoldenGreedy[Prompt.Length..]);
        Assert.Equal("length", choice["finish_reason"]!.GetValue<string>());
        Assert.Equal(40, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task ModelsAreListedAndRetrieved()
    {
        var server = plain.Server;
        var client = new OpenAIModelClient(new ApiKeyCredential("unused"), Options(server));
        OpenAIModelCollection models = await client.GetModelsAsync();
        Assert.Equal(server.State.ModelId, models.Single().Id);
        OpenAIModel model = await client.GetModelAsync(server.State.ModelId);
        Assert.Equal(server.State.ModelId, model.Id);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("no-such-model"));
        Assert.Equal(404, missing.Status);
    }

    // ---- Microsoft.Extensions.AI over the SDK ----

    [SharedFact]
    public async Task ExtensionsAIChatClientAgreesWithTheSdk()
    {
        var server = templated.Server!;
        ChatCompletion sdk = await Chat(server).CompleteChatAsync([new UserChatMessage(Question)], Greedy(16));

        IChatClient client = Chat(server).AsIChatClient();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 16 };
        ChatResponse response = await client.GetResponseAsync([new AIChatMessage(AIChatRole.User, Question)], options);
        Assert.Equal(sdk.Content.Single().Text, response.Text);
        Assert.Equal(16, response.Usage!.OutputTokenCount);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, response.FinishReason);

        var streamed = new System.Text.StringBuilder();
        UsageDetails? usage = null;
        await foreach (var update in client.GetStreamingResponseAsync([new AIChatMessage(AIChatRole.User, Question)], options))
        {
            streamed.Append(update.Text);
            usage ??= update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
        }
        Assert.Equal(response.Text, streamed.ToString());
        Assert.Equal(16, usage?.OutputTokenCount);
    }

    [SharedFact]
    public async Task ExtensionsAIJsonSchemaFormat()
    {
        const string schema = """{"type": "object", "properties": {"title": {"type": "string", "maxLength": 20}}, "required": ["title"], "additionalProperties": false}""";
        IChatClient client = Chat(templated.Server!).AsIChatClient();
        var options = new ChatOptions
        {
            Temperature = 0,
            MaxOutputTokens = 48,
            ResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat.ForJsonSchema(System.Text.Json.JsonDocument.Parse(schema).RootElement, "story"),
        };
        ChatResponse response = await client.GetResponseAsync("Give a story a title, as JSON.", options);
        Assert.Null(JsonSchemaCheck.Validate(response.Text, schema));
    }
}
