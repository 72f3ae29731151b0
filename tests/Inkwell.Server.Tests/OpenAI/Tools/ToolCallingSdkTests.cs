using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using Inkwell.Server.Tests.Grammar;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using OpenAI;
using OpenAI.Chat;

namespace Inkwell.Server.Tests.OpenAI.Tools;

/// <summary>
/// Tool calling through the official OpenAI .NET SDK (2.15.0), the client C# users hold: its own parsing of our
/// responses and stream is the check on the wire format, and its own serialization of tool turns the check on what we
/// accept. The server is the embedded model behind Qwen2.5's template.
/// </summary>
public sealed class ToolCallingSdkTests(TemplatedServer fixture) : IClassFixture<TemplatedServer>
{
    private static ChatClient Chat(TestServer server) => new(server.State.ModelId, new ApiKeyCredential("unused"), new OpenAIClientOptions
    {
        Endpoint = new Uri(server.Client.BaseAddress!, "v1"),
        NetworkTimeout = TimeSpan.FromSeconds(60),
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
    });

    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool(
        "get_weather", "The weather in a city", BinaryData.FromString(ToolCallingApiTests.WeatherSchema));

    private static readonly ChatTool Time = ChatTool.CreateFunctionTool("get_time", "The time in a time zone", BinaryData.FromString(ToolCallingApiTests.TimeSchema));

    private static ChatCompletionOptions Options(ChatToolChoice choice, int maxTokens = 80)
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = maxTokens, ToolChoice = choice };
        options.Tools.Add(Weather);
        options.Tools.Add(Time);
        return options;
    }

    private static readonly ChatMessage[] Question = [new UserChatMessage("What is the weather in Paris?")];

    private static void AssertSatisfiesSchema(ChatToolCall call)
    {
        Assert.Equal(ChatToolCallKind.Function, call.Kind);
        Assert.StartsWith("call_", call.Id);
        string schema = call.FunctionName == "get_weather" ? ToolCallingApiTests.WeatherSchema : ToolCallingApiTests.TimeSchema;
        Assert.Null(JsonSchemaCheck.Validate(call.FunctionArguments.ToString(), schema));
    }

    [SharedFact]
    public async Task A_named_function_choice_comes_back_as_a_tool_call()
    {
        ChatCompletion completion = await Chat(fixture.Server!).CompleteChatAsync(Question, Options(ChatToolChoice.CreateFunctionChoice("get_weather")));
        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        AssertSatisfiesSchema(call);
        using var arguments = JsonDocument.Parse(call.FunctionArguments);
        Assert.Equal(JsonValueKind.String, arguments.RootElement.GetProperty("city").ValueKind);
        Assert.InRange(arguments.RootElement.GetProperty("days").GetInt32(), 1, 7);
    }

    [SharedFact]
    public async Task Required_without_parallel_calls_gives_one_call_to_an_offered_function()
    {
        var options = Options(ChatToolChoice.CreateRequiredChoice());
        options.AllowParallelToolCalls = false;
        ChatCompletion completion = await Chat(fixture.Server!).CompleteChatAsync(Question, options);
        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Contains(call.FunctionName, new[] { "get_weather", "get_time" });
        AssertSatisfiesSchema(call);
    }

    [SharedFact]
    public async Task Auto_with_a_model_that_answers_in_prose_gives_content_unary_and_streamed_alike()
    {
        // The embedded story model never writes a call: "auto" must hand its text back as content, the stream (which
        // holds text back while a call could be starting) in the same words as the unary answer.
        var client = Chat(fixture.Server!);
        var options = Options(ChatToolChoice.CreateAutoChoice(), maxTokens: 40);
        ChatCompletion unary = await client.CompleteChatAsync(Question, options);
        Assert.Empty(unary.ToolCalls);
        Assert.NotEqual(ChatFinishReason.ToolCalls, unary.FinishReason);
        string content = string.Concat(unary.Content.Select(part => part.Text));
        Assert.False(string.IsNullOrWhiteSpace(content));

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (StreamingChatCompletionUpdate update in client.CompleteChatStreamingAsync(Question, options))
        {
            Assert.Empty(update.ToolCallUpdates);
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(content, streamed.ToString());
        Assert.Equal(unary.FinishReason, finish);
    }

    [SharedFact]
    public async Task A_streamed_call_assembles_into_the_unary_one()
    {
        var client = Chat(fixture.Server!);
        var options = Options(ChatToolChoice.CreateFunctionChoice("get_weather"));
        ChatCompletion unary = await client.CompleteChatAsync(Question, options);

        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (StreamingChatCompletionUpdate update in client.CompleteChatStreamingAsync(Question, options))
        {
            foreach (StreamingChatToolCallUpdate call in update.ToolCallUpdates)
            {
                updates++;
                Assert.Equal(0, call.Index);
                id ??= call.ToolCallId;
                name ??= call.FunctionName;
                arguments.Append(call.FunctionArgumentsUpdate.ToString());
            }
            finish ??= update.FinishReason;
        }
        Assert.True(updates > 2, $"{updates} tool-call updates: not streamed");
        Assert.StartsWith("call_", id);
        Assert.Equal("get_weather", name);
        Assert.Equal(unary.ToolCalls.Single().FunctionArguments.ToString(), arguments.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [SharedFact]
    public async Task A_conversation_that_replays_the_call_and_its_result_is_answered()
    {
        var client = Chat(fixture.Server!);
        ChatCompletion called = await client.CompleteChatAsync(Question, Options(ChatToolChoice.CreateFunctionChoice("get_weather")));
        ChatToolCall call = called.ToolCalls.Single();

        // The SDK serializes these turns itself: the assistant's call (content null) and the tool's result by call id.
        ChatMessage[] conversation = [.. Question, new AssistantChatMessage(called), new ToolChatMessage(call.Id, """{"forecast": "sunny", "high": 18}""")];
        ChatCompletion answer = await client.CompleteChatAsync(conversation, Options(ChatToolChoice.CreateNoneChoice(), maxTokens: 8));
        Assert.Empty(answer.ToolCalls);
        Assert.NotEmpty(answer.Content.Single().Text);
        Assert.True(answer.Usage.InputTokenCount > called.Usage.InputTokenCount + 20,
            $"{answer.Usage.InputTokenCount} vs {called.Usage.InputTokenCount}: the call and its result are not in the prompt");
    }

    [SharedFact]
    public async Task A_refused_tool_choice_surfaces_as_a_400()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat(fixture.Server!).CompleteChatAsync(Question, Options(ChatToolChoice.CreateFunctionChoice("book_flight"))));
        Assert.Equal(400, e.Status);
        Assert.Contains("book_flight", e.Message);
    }
}
