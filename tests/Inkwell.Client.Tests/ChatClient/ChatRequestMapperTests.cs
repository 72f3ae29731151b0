using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Client.OpenAI;
using Inkwell.Client.Tests.Fakes;
using Inkwell.Client.Tests.OpenAI;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.Tests.ChatClient;

/// <summary>
/// What InkwellChatClient puts on the wire for Microsoft.Extensions.AI's options and tool turns, read back from the
/// body a fake server received. The expected JSON is OpenAI's documented request shape (platform.openai.com API
/// reference, /v1/chat/completions: tools, tool_choice, parallel_tool_calls, response_format, assistant tool_calls and
/// tool messages) plus vLLM's top_k, which is what Inkwell's server reads (OpenAISchema.cs).
/// </summary>
public class ChatRequestMapperTests
{
    private const string WeatherSchema = """{"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"]}""";

    private static readonly AIFunctionDeclaration Weather =
        AIFunctionFactory.CreateDeclaration("get_weather", "The weather in a city", JsonDocument.Parse(WeatherSchema).RootElement);

    private static readonly ChatMessage[] Question = [new(ChatRole.User, "What is the weather in Paris?")];

    /// <summary>Sends one unary request through InkwellChatClient and returns the body the server got.</summary>
    private static async Task<JsonNode> SentBodyAsync(ChatOptions? options, IEnumerable<ChatMessage>? messages = null)
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");
        await chat.GetResponseAsync(messages ?? Question, options);
        return JsonNode.Parse(routes.Requests.Single().GetRawText())!;
    }

    private static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\n     got {actual?.ToJsonString()}");

    public static TheoryData<string, string> ToolModes => new()
    {
        { "default", "\"auto\"" },
        { "auto", "\"auto\"" },
        { "none", "\"none\"" },
        { "require-any", "\"required\"" },
        { "require-get_weather", """{"type": "function", "function": {"name": "get_weather"}}""" },
    };

    private static ChatToolMode? ToolMode(string name) => name switch
    {
        "default" => null,
        "auto" => ChatToolMode.Auto,
        "none" => ChatToolMode.None,
        "require-any" => ChatToolMode.RequireAny,
        _ => ChatToolMode.RequireSpecific(name["require-".Length..]),
    };

    [Theory]
    [MemberData(nameof(ToolModes))]
    public async Task Tools_and_tool_mode_are_sent_as_openai_tools_and_tool_choice(string mode, string expectedToolChoice)
    {
        var sent = await SentBodyAsync(new ChatOptions { Tools = [Weather], ToolMode = ToolMode(mode) });

        AssertJson("""[{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city", "parameters": SCHEMA}}]""".Replace("SCHEMA", WeatherSchema), sent["tools"]);
        AssertJson(expectedToolChoice, sent["tool_choice"]);
        Assert.False(sent.AsObject().ContainsKey("parallel_tool_calls")); // not set: the server's default applies
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AllowMultipleToolCalls_is_sent_as_parallel_tool_calls(bool allow)
    {
        var sent = await SentBodyAsync(new ChatOptions { Tools = [Weather], AllowMultipleToolCalls = allow });

        Assert.Equal(allow, sent["parallel_tool_calls"]!.GetValue<bool>());
    }

    [Fact]
    public async Task An_AIFunction_goes_out_with_the_schema_Microsoft_Extensions_AI_made_for_it()
    {
        var function = AIFunctionFactory.Create((string city, int days) => $"{city} {days}", "get_weather", "The weather in a city");

        var sent = await SentBodyAsync(new ChatOptions { Tools = [function] });

        var sentFunction = sent["tools"]![0]!["function"]!;
        Assert.Equal("get_weather", sentFunction["name"]!.GetValue<string>());
        Assert.Equal("The weather in a city", sentFunction["description"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(function.JsonSchema.GetRawText()), sentFunction["parameters"]));
    }

    [Fact]
    public async Task Without_tools_no_tool_fields_are_sent_for_auto_none_or_parallel_calls()
    {
        // The server refuses tool_choice and parallel_tool_calls without tools; auto, none and a permission to call
        // several functions say nothing when there is no function.
        foreach (var mode in new ChatToolMode?[] { null, ChatToolMode.Auto, ChatToolMode.None })
        {
            var sent = await SentBodyAsync(new ChatOptions { ToolMode = mode, AllowMultipleToolCalls = false });
            Assert.False(sent.AsObject().ContainsKey("tools"));
            Assert.False(sent.AsObject().ContainsKey("tool_choice"));
            Assert.False(sent.AsObject().ContainsKey("parallel_tool_calls"));
        }
    }

    [Fact]
    public async Task Requiring_a_call_without_tools_is_sent_so_the_server_can_refuse_it()
    {
        var sent = await SentBodyAsync(new ChatOptions { ToolMode = ChatToolMode.RequireAny });

        AssertJson("\"required\"", sent["tool_choice"]);
    }

    [Fact]
    public async Task TopK_is_sent_as_top_k()
    {
        var sent = await SentBodyAsync(new ChatOptions { TopK = 5 });

        Assert.Equal(5, sent["top_k"]!.GetValue<int>());
    }

    public static TheoryData<string, string?> ResponseFormats => new()
    {
        { "text", null },
        { "json", """{"type": "json_object"}""" },
        { "schema", """{"type": "json_schema", "json_schema": {"name": "weather", "description": "A forecast", "schema": SCHEMA}}""".Replace("SCHEMA", WeatherSchema) },
        // OpenAI requires a name; Microsoft.Extensions.AI's OpenAI adapter fills in "json_schema" when there is none.
        { "unnamed-schema", """{"type": "json_schema", "json_schema": {"name": "json_schema", "schema": SCHEMA}}""".Replace("SCHEMA", WeatherSchema) },
    };

    private static ChatResponseFormat Format(string name) => name switch
    {
        "text" => ChatResponseFormat.Text,
        "json" => ChatResponseFormat.Json,
        "schema" => ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(WeatherSchema).RootElement, "weather", "A forecast"),
        _ => ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(WeatherSchema).RootElement),
    };

    [Theory]
    [MemberData(nameof(ResponseFormats))]
    public async Task ResponseFormat_is_sent_as_response_format(string format, string? expected)
    {
        var sent = await SentBodyAsync(new ChatOptions { ResponseFormat = Format(format) });

        if (expected is null) Assert.False(sent.AsObject().ContainsKey("response_format"));
        else AssertJson(expected, sent["response_format"]);
    }

    [Fact]
    public async Task A_replayed_call_and_its_result_go_out_as_tool_calls_and_a_tool_message()
    {
        var arguments = new Dictionary<string, object?> { ["city"] = "Paris", ["days"] = 2 };
        ChatMessage[] conversation =
        [
            .. Question,
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", arguments)]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "sunny")]),
            new(ChatRole.Assistant, [new TextContent("Checking both."), new FunctionCallContent("call_2", "get_weather", arguments), new FunctionCallContent("call_3", "get_time", null)]),
            new(ChatRole.Tool, [new FunctionResultContent("call_2", new { forecast = "rain", high = 12 }), new FunctionResultContent("call_3", null)]),
        ];

        var sent = await SentBodyAsync(new ChatOptions { Tools = [Weather] }, conversation);

        var messages = sent["messages"]!.AsArray();
        Assert.Equal(6, messages.Count);
        AssertJson("""{"role": "user", "content": "What is the weather in Paris?"}""", messages[0]);
        // OpenAI: an assistant message that only calls has content null (omitted here, which the server reads the same).
        Assert.Null(messages[1]!["content"]);
        Assert.Equal("assistant", messages[1]!["role"]!.GetValue<string>());
        var call = messages[1]!["tool_calls"]!.AsArray().Single()!;
        Assert.Equal(("call_1", "function", "get_weather"), (call["id"]!.GetValue<string>(), call["type"]!.GetValue<string>(), call["function"]!["name"]!.GetValue<string>()));
        // arguments are JSON text, as OpenAI sends them
        AssertJson("""{"city": "Paris", "days": 2}""", JsonNode.Parse(call["function"]!["arguments"]!.GetValue<string>()));
        AssertJson("""{"role": "tool", "tool_call_id": "call_1", "content": "sunny"}""", messages[2]);

        Assert.Equal("Checking both.", messages[3]!["content"]!.GetValue<string>());
        var calls = messages[3]!["tool_calls"]!.AsArray();
        Assert.Equal(["call_2", "call_3"], calls.Select(c => c!["id"]!.GetValue<string>()));
        AssertJson("{}", JsonNode.Parse(calls[1]!["function"]!["arguments"]!.GetValue<string>()));
        // A result that is not a string goes as its JSON; no result as empty text.
        Assert.Equal(("tool", "call_2"), (messages[4]!["role"]!.GetValue<string>(), messages[4]!["tool_call_id"]!.GetValue<string>()));
        AssertJson("""{"forecast": "rain", "high": 12}""", JsonNode.Parse(messages[4]!["content"]!.GetValue<string>()));
        AssertJson("""{"role": "tool", "tool_call_id": "call_3", "content": ""}""", messages[5]);
    }

    public static TheoryData<string, string> UncarriedOptions => new()
    {
        { "conversation", "ConversationId" },
        { "background", "AllowBackgroundResponses" },
        { "continuation", "ContinuationToken" },
        { "raw", "RawRepresentationFactory" },
        { "additional", "AdditionalProperties (guided_regex)" },
        { "hosted-tool", "HostedWebSearchTool" },
    };

#pragma warning disable MEAI001 // experimental members, set to show they are refused
    private static ChatOptions Uncarried(string name) => name switch
    {
        "conversation" => new ChatOptions { ConversationId = "conv-1" },
        "background" => new ChatOptions { AllowBackgroundResponses = true },
        "continuation" => new ChatOptions { ContinuationToken = ResponseContinuationToken.FromBytes(new byte[] { 1 }) },
        "raw" => new ChatOptions { RawRepresentationFactory = _ => new ChatCompletionRequest { Model = "m", Messages = [] } },
        "additional" => new ChatOptions { AdditionalProperties = new() { ["guided_regex"] = "a+" } },
        _ => new ChatOptions { Tools = [Weather, new HostedWebSearchTool()] },
    };
#pragma warning restore MEAI001

    [Theory]
    [MemberData(nameof(UncarriedOptions))]
    public async Task An_option_the_wire_cannot_carry_is_refused_before_anything_is_sent(string option, string named)
    {
        var routes = new OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var unary = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync(Question, Uncarried(option)));
        var streamed = await Assert.ThrowsAsync<NotSupportedException>(async () =>
        {
            await foreach (var _ in chat.GetStreamingResponseAsync(Question, Uncarried(option))) { }
        });

        Assert.Contains(named, unary.Message);
        Assert.Equal(unary.Message, streamed.Message);
        Assert.Empty(routes.Requests);
    }
}
