using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Client.OpenAI;
using Inkwell.Client.Tests.Fakes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.AI;
using static Inkwell.Client.Tests.Fakes.FakeInferenceServer;

namespace Inkwell.Client.Tests.ChatClient;

/// <summary>
/// Tool calls in answers, as OpenAI documents them (message.tool_calls; streamed delta.tool_calls whose first piece
/// for an index has id, type and name and later pieces argument fragments), read by InkwellChatClient into
/// Microsoft.Extensions.AI's FunctionCallContent. The answers are fixed fakes in that shape; the real server's calls
/// are checked in RealServer/ChatClientToolCallingTests.
/// </summary>
public class ToolCallResponseTests
{
    private const string Arguments = """{"city": "Paris", "days": 2}""";

    private static string Quoted(string text) => JsonSerializer.Serialize(text);

    private static async Task<FakeInferenceServer> ServerAnsweringAsync(string unary, params string[] streamEvents) =>
        await FakeInferenceServer.StartAsync(app => app.MapPost("/v1/chat/completions", async context =>
        {
            var body = await ReadJsonAsync(context);
            if (body.TryGetProperty("stream", out var stream) && stream.GetBoolean())
                await WriteSseChunksAsync(context, [.. streamEvents.Select(e => $"data: {e}\n\n"), "data: [DONE]\n\n"]);
            else
                await WriteJsonAsync(context, unary);
        }));

    private static string Chunk(string delta, string finishReason = "null") =>
        $$"""{"id":"chatcmpl-s","object":"chat.completion.chunk","created":1732233600,"model":"acme/tiny","choices":[{"index":0,"delta":{{delta}},"logprobs":null,"finish_reason":{{finishReason}}}]}""";

    private static string CallPiece(int index, string? id, string? name, string arguments)
    {
        var function = new JsonObject { ["arguments"] = arguments };
        if (name is not null) function["name"] = name;
        var piece = new JsonObject { ["index"] = index, ["function"] = function };
        if (id is not null)
        {
            piece["id"] = id;
            piece["type"] = "function";
        }
        return new JsonObject { ["tool_calls"] = new JsonArray(piece) }.ToJsonString();
    }

    private static void AssertCall(AIContent content, string callId, string name, string arguments)
    {
        var call = Assert.IsType<FunctionCallContent>(content);
        Assert.Equal((callId, name), (call.CallId, call.Name));
        Assert.Null(call.Exception);
        // The values are what parsing the JSON text gives (JsonElements), compared as JSON.
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(arguments).RootElement, JsonSerializer.SerializeToElement(call.Arguments, AIJsonUtilities.DefaultOptions)),
            JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions));
    }

    [Fact]
    public async Task A_unary_answer_with_tool_calls_becomes_function_call_contents_beside_its_text()
    {
        await using var server = await ServerAnsweringAsync($$$"""
            {"id":"chatcmpl-t","object":"chat.completion","created":1732233600,"model":"acme/tiny",
             "choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.","tool_calls":[
               {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":{{{Quoted(Arguments)}}} }},
               {"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":7,"completion_tokens":30,"total_tokens":37}}
            """);
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var response = await chat.GetResponseAsync("What is the weather in Paris?");

        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var contents = response.Messages.Single().Contents;
        Assert.Equal(3, contents.Count);
        Assert.Equal("Let me check.", Assert.IsType<TextContent>(contents[0]).Text);
        AssertCall(contents[1], "call_a", "get_weather", Arguments);
        AssertCall(contents[2], "call_b", "get_time", "{}");
    }

    [Fact]
    public async Task A_call_only_answer_has_no_text_content()
    {
        await using var server = await ServerAnsweringAsync($$$"""
            {"id":"chatcmpl-t","object":"chat.completion","created":1732233600,"model":"acme/tiny",
             "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
               {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":{{{Quoted(Arguments)}}} }}]},"logprobs":null,"finish_reason":"tool_calls"}]}
            """);
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var response = await chat.GetResponseAsync("What is the weather in Paris?");

        AssertCall(Assert.Single(response.Messages.Single().Contents), "call_a", "get_weather", Arguments);
    }

    [Fact]
    public async Task Streamed_call_pieces_are_assembled_into_whole_calls_once_each_is_complete()
    {
        await using var server = await ServerAnsweringAsync("{}",
            Chunk("""{"role":"assistant","content":"Let me check."}"""),
            Chunk(CallPiece(0, "call_a", "get_weather", ""), "null"),
            Chunk(CallPiece(0, null, null, """{"city": "Pa""")),
            Chunk(CallPiece(0, null, null, """ris", "days": 2}""")),
            Chunk(CallPiece(1, "call_b", "get_time", "{}")),
            Chunk("{}", "\"tool_calls\""));
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("What is the weather in Paris?")) updates.Add(update);

        // The first call is whole when the second begins, the second when the choice finishes; nothing before.
        var callsPerUpdate = updates.Select(u => u.Contents.OfType<FunctionCallContent>().Count()).ToList();
        Assert.Equal([0, 0, 0, 0, 1, 1], callsPerUpdate);
        var response = updates.ToChatResponse();
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        var contents = response.Messages.Single().Contents;
        Assert.Equal("Let me check.", Assert.IsType<TextContent>(contents[0]).Text);
        AssertCall(contents[1], "call_a", "get_weather", Arguments);
        AssertCall(contents[2], "call_b", "get_time", "{}");
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_call_hands_over_the_partial_call_with_its_parse_error()
    {
        await using var server = await ServerAnsweringAsync("{}",
            Chunk(CallPiece(0, "call_a", "get_weather", """{"city": "Pa""")));
        using var openAI = new OpenAIClient(server.BaseAddress);
        using IChatClient chat = openAI.AsChatClient("acme/tiny");

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("What is the weather in Paris?")) updates.Add(update);

        var call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Equal(("call_a", "get_weather"), (call.CallId, call.Name));
        Assert.Null(call.Arguments);
        Assert.NotNull(call.Exception); // Microsoft.Extensions.AI's way of saying the arguments did not parse
    }
}
