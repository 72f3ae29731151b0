using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Grammar;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using static Inkwell.Server.Tests.OpenAI.Http;

namespace Inkwell.Server.Tests.OpenAI.Tools;

/// <summary>
/// Tool calling on /v1/chat/completions over the wire: the embedded model behind Qwen2.5's template (which reads
/// tools). The model knows nothing of tools, so calls come from the grammar (named, required) or from an output forced
/// by a regex ("auto"); what is checked is the shape OpenAI documents, the schema the arguments must satisfy (checked
/// by an independent validator), and that streaming and unary answers agree.
/// </summary>
public sealed class ToolCallingApiTests(TemplatedServer fixture) : IClassFixture<TemplatedServer>
{
    private TestServer Server => fixture.Server!;

    internal const string WeatherSchema = """{"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"]}""";
    internal const string TimeSchema = """{"type": "object", "properties": {"timezone": {"enum": ["UTC", "CET"]}}, "required": ["timezone"]}""";

    private static JsonArray Tools() =>
    [
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_weather", ["description"] = "The weather in a city", ["parameters"] = JsonNode.Parse(WeatherSchema) } },
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_time", ["parameters"] = JsonNode.Parse(TimeSchema) } },
    ];

    private static string SchemaOf(string name) => name switch { "get_weather" => WeatherSchema, "get_time" => TimeSchema, _ => throw new ArgumentException(name) };

    private JsonObject Request(object? toolChoice, int maxTokens = 80)
    {
        var body = new JsonObject
        {
            ["model"] = Server.State.ModelId,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "What is the weather in Paris?" }),
            ["tools"] = Tools(),
            ["max_tokens"] = maxTokens,
            ["temperature"] = 0,
        };
        if (toolChoice is not null) body["tool_choice"] = JsonSerializer.SerializeToNode(toolChoice);
        return body;
    }

    private static object Named(string name) => new { type = "function", function = new { name } };

    private static void AssertCall(JsonNode call)
    {
        string id = call["id"]!.GetValue<string>();
        Assert.Matches("^call_[A-Za-z0-9]{24}$", id);
        Assert.Equal("function", call["type"]!.GetValue<string>());
        string name = call["function"]!["name"]!.GetValue<string>();
        string arguments = call["function"]!["arguments"]!.GetValue<string>(); // JSON text, as OpenAI sends it
        Assert.Null(JsonSchemaCheck.Validate(arguments, SchemaOf(name)));
    }

    [SharedFact]
    public async Task A_named_function_is_called_with_arguments_that_satisfy_its_schema()
    {
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", Request(Named("get_weather")));
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        Assert.Equal("tool_calls", choice["finish_reason"]!.GetValue<string>());
        var message = choice["message"]!.AsObject();
        Assert.Equal("assistant", message["role"]!.GetValue<string>());
        Assert.True(message.ContainsKey("content"));
        Assert.Null(message["content"]);
        var call = message["tool_calls"]!.AsArray().Single()!;
        Assert.Equal("get_weather", call["function"]!["name"]!.GetValue<string>());
        AssertCall(call);
    }

    [SharedFact]
    public async Task A_streamed_named_call_sends_its_arguments_as_they_come_and_agrees_with_the_unary_answer()
    {
        var (_, unary) = await PostJson(Server.Client, "/v1/chat/completions", Request(Named("get_weather")));
        var request = Request(Named("get_weather"));
        request["stream"] = true;
        var (status, events, done, _) = await PostStream(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        Assert.True(done);
        var deltas = events.Select(e => e["choices"]![0]!["delta"]!).Where(d => d["tool_calls"] is not null).SelectMany(d => d["tool_calls"]!.AsArray()).ToList();
        Assert.True(deltas.Count > 2, $"{deltas.Count} tool-call deltas: not streamed");
        Assert.All(deltas, d => Assert.Equal(0, d!["index"]!.GetValue<int>()));
        Assert.Matches("^call_", deltas[0]!["id"]!.GetValue<string>());
        Assert.Equal("function", deltas[0]!["type"]!.GetValue<string>());
        Assert.Equal("get_weather", deltas[0]!["function"]!["name"]!.GetValue<string>());
        Assert.All(deltas.Skip(1), d => Assert.Null(d!["id"]));
        string arguments = string.Concat(deltas.Select(d => d!["function"]!["arguments"]?.GetValue<string>() ?? ""));
        Assert.Equal(unary["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>(), arguments);
        Assert.Equal("tool_calls", events[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.All(events, e => Assert.Null(e["choices"]![0]!["delta"]!["content"]?.GetValue<string>() is { Length: > 0 } text ? text : null));
    }

    [SharedFact]
    public async Task Required_calls_offered_functions_in_every_choice()
    {
        var request = Request("required", maxTokens: 120);
        request["n"] = 3;
        request["temperature"] = 1.0;
        request["seed"] = 7;
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        var choices = body["choices"]!.AsArray();
        Assert.Equal(3, choices.Count);
        foreach (var choice in choices)
        {
            Assert.Equal("tool_calls", choice!["finish_reason"]!.GetValue<string>());
            var calls = choice["message"]!["tool_calls"]!.AsArray();
            Assert.NotEmpty(calls);
            foreach (var call in calls) AssertCall(call!);
        }
    }

    [SharedFact]
    public async Task Required_without_parallel_calls_makes_exactly_one()
    {
        var request = Request("required");
        request["parallel_tool_calls"] = false;
        request["n"] = 4;
        request["temperature"] = 1.0;
        request["seed"] = 3;
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        foreach (var choice in body["choices"]!.AsArray())
        {
            AssertCall(choice!["message"]!["tool_calls"]!.AsArray().Single()!);
            Assert.Equal("tool_calls", choice["finish_reason"]!.GetValue<string>());
        }
    }

    // The model's own Hermes answer, forced by a regex: "auto" reads it as Qwen2.5's template asks for it.
    private const string HermesRegex = """Let me check\.\n<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris", "days": 2\}\}\n</tool_call>""";

    [SharedFact]
    public async Task Auto_reads_a_hermes_call_from_the_output_with_the_text_before_it_as_content()
    {
        var request = Request("auto", maxTokens: 300); // the tiny vocabulary spends about a token per character here
        request["guided_regex"] = HermesRegex;
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        Assert.Equal("tool_calls", choice["finish_reason"]!.GetValue<string>());
        Assert.Equal("Let me check.\n", choice["message"]!["content"]!.GetValue<string>());
        var call = choice["message"]!["tool_calls"]!.AsArray().Single()!;
        Assert.Equal("get_weather", call["function"]!["name"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city": "Paris", "days": 2}"""), JsonNode.Parse(call["function"]!["arguments"]!.GetValue<string>())));
        AssertCall(call);

        request["stream"] = true;
        var (_, events, done, _) = await PostStream(Server.Client, "/v1/chat/completions", request);
        Assert.True(done);
        var deltas = events.Select(e => e["choices"]![0]!["delta"]!).ToList();
        Assert.Equal("Let me check.\n", string.Concat(deltas.Select(d => d["content"]?.GetValue<string>() ?? "")));
        var streamedCall = deltas.Where(d => d["tool_calls"] is not null).SelectMany(d => d["tool_calls"]!.AsArray()).Single()!;
        Assert.Equal(call["function"]!["arguments"]!.GetValue<string>(), streamedCall["function"]!["arguments"]!.GetValue<string>());
        Assert.Equal("tool_calls", events[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>());
        // No piece of the call went out as content.
        Assert.DoesNotContain(deltas, d => d["content"]?.GetValue<string>().Contains('<') == true);
    }

    [SharedFact]
    public async Task Auto_without_a_call_is_plain_content_and_none_parses_nothing()
    {
        foreach (string choice in new[] { "auto", "none" })
        {
            var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", Request(choice, maxTokens: 12));
            Assert.Equal(200, status);
            var c = body["choices"]![0]!;
            Assert.False(c["message"]!.AsObject().ContainsKey("tool_calls"));
            Assert.NotNull(c["message"]!["content"]);
            Assert.NotEqual("tool_calls", c["finish_reason"]!.GetValue<string>());
        }

        // "none" still shows the tools to the template, as vLLM does: the prompt is the same as with "auto".
        var (_, withNone) = await PostJson(Server.Client, "/v1/chat/completions", Request("none", maxTokens: 1));
        var (_, withAuto) = await PostJson(Server.Client, "/v1/chat/completions", Request("auto", maxTokens: 1));
        var withoutTools = Request(null, maxTokens: 1);
        withoutTools.Remove("tools");
        var (_, without) = await PostJson(Server.Client, "/v1/chat/completions", withoutTools);
        int Prompt(JsonNode b) => b["usage"]!["prompt_tokens"]!.GetValue<int>();
        Assert.Equal(Prompt(withAuto), Prompt(withNone));
        Assert.True(Prompt(withNone) > Prompt(without) + 50, $"{Prompt(withNone)} vs {Prompt(without)}: the tools are not in the prompt");
    }

    [SharedFact]
    public async Task A_conversation_replaying_a_call_and_its_result_is_rendered_as_jinja2_renders_it()
    {
        // tests/data/templates/tool-conversation.json as a client sends it; its jinja2 render is expected-tools.json's.
        var conversation = JsonNode.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "tool-conversation.json")))!;
        var messages = conversation["messages"]!.DeepClone().AsArray();
        messages[2]!["content"] = null;
        var function = messages[2]!["tool_calls"]![0]!["function"]!;
        function["arguments"] = function["arguments"]!.ToJsonString();
        var request = new JsonObject
        {
            ["model"] = Server.State.ModelId, ["messages"] = messages, ["tools"] = conversation["tools"]!.DeepClone(), ["max_tokens"] = 4,
        };
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        string expected = JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "expected-tools.json")))
            .RootElement.GetProperty(TemplatedServer.TemplateFile.Replace(".jinja", "")).GetProperty("expected").GetString()!;
        Assert.Equal(Server.State.Tokenizer.EncodeToIds(expected, addSpecialTokens: false).Count, body["usage"]!["prompt_tokens"]!.GetValue<int>());
    }

    [SharedFact]
    public async Task Logprobs_cover_the_call_and_usage_counts_its_tokens()
    {
        var request = Request(Named("get_time"));
        request["logprobs"] = true;
        request["top_logprobs"] = 2;
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        var tokens = choice["logprobs"]!["content"]!.AsArray();
        Assert.Equal(body["usage"]!["completion_tokens"]!.GetValue<int>(), tokens.Count);
        string arguments = choice["message"]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>();
        Assert.Equal(arguments, string.Concat(tokens.Select(t => t!["token"]!.GetValue<string>())));
    }

    [SharedFact]
    public async Task A_call_cut_short_by_max_tokens_ends_with_length()
    {
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", Request(Named("get_weather"), maxTokens: 3));
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        Assert.Equal("length", choice["finish_reason"]!.GetValue<string>());
        // The partial arguments are still the call's (as streamed); "length" says they are incomplete.
        Assert.StartsWith("{", choice["message"]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>());
    }

    public static TheoryData<string, string> InvalidRequests => new()
    {
        { """{"tools": [{"type": "retrieval"}]}""", "tools[0].type" },
        { """{"tools": []}""", "tools" },
        { """{"tools": [{"type": "function", "function": {"name": "get weather"}}]}""", "tools[0].function.name" },
        { """{"tools": [{"type": "function", "function": {"name": "NAME65"}}]}""", "tools[0].function.name" },
        { """{"tools": [{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]}""", "tools[1].function.name" },
        { """{"tools": [{"type": "function", "function": {"name": "f", "parameters": "object"}}]}""", "tools[0].function.parameters" },
        { """{"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "book_flight"}}}""", "tool_choice" },
        { """{"tools": TOOLS, "tool_choice": "sometimes"}""", "tool_choice" },
        // OpenAI: 'tool_choice' is only allowed when 'tools' are specified.
        { """{"tool_choice": "required"}""", "tool_choice" },
        { """{"parallel_tool_calls": false}""", "parallel_tool_calls" },
        { """{"tools": TOOLS, "tool_choice": "required", "response_format": {"type": "json_object"}}""", "response_format" },
        { """{"functions": [{"name": "f"}]}""", "functions" },
        { """{"messages": [{"role": "user", "content": "Hi"}, {"role": "tool", "content": "sunny"}]}""", "messages[1].tool_call_id" },
        { """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{city: Paris}"}}]}]}""", "messages[1].tool_calls[0].function.arguments" },
        { """{"messages": [{"role": "user", "content": "Hi", "tool_calls": []}]}""", "messages[0].tool_calls" },
        // A schema the grammar cannot honour, found when the named call's grammar compiles.
        { """{"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array", "uniqueItems": true}}}], "tool_choice": {"type": "function", "function": {"name": "f"}}}""", "tools[0].function.parameters" },
    };

    [SharedTheory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Invalid_tool_requests_are_400s_in_openai_shape(string extra, string param)
    {
        var body = JsonNode.Parse(extra.Replace("TOOLS", Tools().ToJsonString()).Replace("NAME65", new string('a', 65)))!.AsObject();
        body["model"] = Server.State.ModelId;
        body["max_tokens"] = 3;
        if (!body.ContainsKey("messages")) body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" });
        var (status, error) = await PostJson(Server.Client, "/v1/chat/completions", body);
        Assert.Equal(400, status);
        AssertOpenAIError(error, param);
        Assert.Equal("invalid_request_error", error["error"]!["type"]!.GetValue<string>());
    }
}
