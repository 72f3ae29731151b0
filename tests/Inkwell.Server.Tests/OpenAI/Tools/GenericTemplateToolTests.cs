using System.Text.Json.Nodes;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using static Inkwell.Server.Tests.OpenAI.Http;

namespace Inkwell.Server.Tests.OpenAI.Tools;

/// <summary>The embedded model behind Phi-3.5's template, which reads no tools: served through the generic instruction.</summary>
public sealed class GenericTemplateServer : IAsyncLifetime
{
    public TestServer? Server { get; private set; }

    public async Task InitializeAsync()
    {
        if (RepoPaths.HasShared)
            Server = await TestServer.StartAsync(new ServerOptions { ChatTemplatePath = RepoPaths.InShared("templates", "microsoft-Phi-3.5-mini-instruct.jinja") });
    }

    public async Task DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
    }
}

/// <summary>Tool calling with a template that does not read tools: the instruction goes into the prompt and the Hermes answer it asks for is read back.</summary>
public sealed class GenericTemplateToolTests(GenericTemplateServer fixture) : IClassFixture<GenericTemplateServer>
{
    private TestServer Server => fixture.Server!;

    private JsonObject Request(string toolChoice, bool withTools = true)
    {
        var body = new JsonObject
        {
            ["model"] = Server.State.ModelId,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "What is the weather in Paris?" }),
            ["max_tokens"] = 300,
            ["temperature"] = 0,
        };
        if (!withTools) return body;
        body["tool_choice"] = toolChoice;
        body["tools"] = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "get_weather", ["parameters"] = JsonNode.Parse(ToolCallingApiTests.WeatherSchema) },
        });
        return body;
    }

    [SharedFact]
    public async Task The_instruction_is_added_for_auto_only_and_its_hermes_answer_becomes_a_call()
    {
        int PromptTokens(JsonNode body) => body["usage"]!["prompt_tokens"]!.GetValue<int>();
        var plain = Request("auto", withTools: false);
        plain["max_tokens"] = 1;
        var none = Request("none");
        none["max_tokens"] = 1;
        var (_, withoutTools) = await PostJson(Server.Client, "/v1/chat/completions", plain);
        var (_, withNone) = await PostJson(Server.Client, "/v1/chat/completions", none);
        Assert.Equal(PromptTokens(withoutTools), PromptTokens(withNone)); // the template ignores tools; "none" adds nothing

        var auto = Request("auto");
        auto["guided_regex"] = """<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Oslo", "days": 1\}\}\n</tool_call>""";
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", auto);
        Assert.Equal(200, status);
        Assert.True(PromptTokens(body) > PromptTokens(withoutTools) + 100, "the tool instruction is not in the prompt");
        var choice = body["choices"]![0]!;
        Assert.Equal("tool_calls", choice["finish_reason"]!.GetValue<string>());
        Assert.Null(choice["message"]!["content"]);
        var call = choice["message"]!["tool_calls"]!.AsArray().Single()!;
        Assert.Equal("get_weather", call["function"]!["name"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"city": "Oslo", "days": 1}"""), JsonNode.Parse(call["function"]!["arguments"]!.GetValue<string>())));
    }

    [SharedFact]
    public async Task A_replayed_call_and_result_render_through_the_polyfill()
    {
        var request = Request("auto");
        request["max_tokens"] = 2;
        request["messages"]!.AsArray().Add(new JsonObject
        {
            ["role"] = "assistant", ["content"] = null,
            ["tool_calls"] = new JsonArray(new JsonObject { ["id"] = "call_1", ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_weather", ["arguments"] = """{"city": "Paris", "days": 1}""" } }),
        });
        request["messages"]!.AsArray().Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = "call_1", ["content"] = "sunny" });
        var (status, body) = await PostJson(Server.Client, "/v1/chat/completions", request);
        Assert.Equal(200, status);
        Assert.Equal(2, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }
}
