using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Grammar;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using static Inkwell.Server.Tests.OpenAI.Http;

namespace Inkwell.Server.Tests.OpenAI;

/// <summary>
/// /v1 routes over the embedded stories260K. Expected texts come from the model's golden greedy continuation
/// (models/stories260K/greedy-256-from-bos.txt, produced by llama2.c), not from earlier runs of this server.
/// </summary>
public sealed class OpenAIApiTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private const string Prompt = "Once upon a time";
    private HttpClient Client => fixture.Server.Client;
    private string Model => fixture.Server.State.ModelId;
    private string Golden => fixture.Server.GoldenGreedy[Prompt.Length..];

    [Fact]
    public async Task ModelsListsTheServedModel()
    {
        var body = JsonNode.Parse(await Client.GetStringAsync("/v1/models"))!;
        Assert.Equal("list", body["object"]!.GetValue<string>());
        var model = body["data"]!.AsArray().Single()!;
        Assert.Equal(Model, model["id"]!.GetValue<string>());
        Assert.Equal("model", model["object"]!.GetValue<string>());
        Assert.True(model["created"]!.GetValue<long>() > 1_600_000_000);
        Assert.NotNull(model["owned_by"]);
    }

    [Fact]
    public async Task GreedyCompletionFollowsTheGoldenText()
    {
        var (status, body) = await PostJson(Client, "/v1/completions", new { model = Model, prompt = Prompt, max_tokens = 30, temperature = 0 });
        Assert.Equal(200, status);
        Assert.StartsWith("cmpl-", body["id"]!.GetValue<string>());
        Assert.Equal("text_completion", body["object"]!.GetValue<string>());
        Assert.Equal(Model, body["model"]!.GetValue<string>());
        var choice = body["choices"]!.AsArray().Single()!;
        string text = choice["text"]!.GetValue<string>();
        Assert.True(text.Length > 40, text);
        Assert.StartsWith(text, Golden);
        Assert.Equal("length", choice["finish_reason"]!.GetValue<string>());
        Assert.Equal(0, choice["index"]!.GetValue<int>());
        var usage = body["usage"]!;
        Assert.Equal(30, usage["completion_tokens"]!.GetValue<int>());
        Assert.Equal(fixture.Server.State.Tokenizer.EncodeToIds(Prompt).Count, usage["prompt_tokens"]!.GetValue<int>());
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>() + 30, usage["total_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task StopSequenceIsLeftOutAndFinishReasonIsStop()
    {
        // The golden continuation: ", there was a little girl named Lily. She loved ..."
        var (status, body) = await PostJson(Client, "/v1/completions", new { model = Model, prompt = Prompt, max_tokens = 40, temperature = 0, stop = new[] { "Lily" } });
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        Assert.Equal(Golden[..Golden.IndexOf("Lily", StringComparison.Ordinal)], choice["text"]!.GetValue<string>());
        Assert.Equal("stop", choice["finish_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task StreamedCompletionConcatenatesToTheGoldenTextAndEndsWithDone()
    {
        var (status, events, done, type) = await PostStream(Client, "/v1/completions",
            new { model = Model, prompt = Prompt, max_tokens = 30, temperature = 0, stream = true, stop = "Lily", stream_options = new { include_usage = true } });
        Assert.Equal(200, status);
        Assert.Equal("text/event-stream", type);
        Assert.True(done, "no data: [DONE]");
        var usageChunk = events[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.True(usageChunk["usage"]!["completion_tokens"]!.GetValue<int>() > 0);
        var chunks = events[..^1];
        Assert.All(chunks, c => Assert.Equal("text_completion", c["object"]!.GetValue<string>()));
        Assert.All(chunks, c => Assert.Null(c["usage"]));
        string text = string.Concat(chunks.Select(c => c["choices"]![0]!["text"]!.GetValue<string>()));
        Assert.Equal(Golden[..Golden.IndexOf("Lily", StringComparison.Ordinal)], text);
        Assert.Equal("stop", chunks[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.All(chunks[..^1], c => Assert.Null(c["choices"]![0]!["finish_reason"]));
        Assert.Single(chunks.Select(c => c["id"]!.GetValue<string>()).Distinct());
    }

    [Fact]
    public async Task PromptArrayAndNGiveOneChoicePerPromptAndSample()
    {
        var (status, body) = await PostJson(Client, "/v1/completions",
            new { model = Model, prompt = new[] { Prompt, "Lily saw" }, n = 2, max_tokens = 5, seed = 7, temperature = 1.0 });
        Assert.Equal(200, status);
        var choices = body["choices"]!.AsArray();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c!["index"]!.GetValue<int>()).ToArray());
        Assert.Equal(20, body["usage"]!["completion_tokens"]!.GetValue<int>());
        // Seeded: the same request gives the same choices.
        var (_, again) = await PostJson(Client, "/v1/completions",
            new { model = Model, prompt = new[] { Prompt, "Lily saw" }, n = 2, max_tokens = 5, seed = 7, temperature = 1.0 });
        Assert.Equal(choices.Select(c => c!["text"]!.GetValue<string>()), again["choices"]!.AsArray().Select(c => c!["text"]!.GetValue<string>()));
    }

    [Fact]
    public async Task CompletionLogprobsAreParallelArrays()
    {
        var (status, body) = await PostJson(Client, "/v1/completions", new { model = Model, prompt = Prompt, max_tokens = 6, temperature = 0, logprobs = 2 });
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        var lp = choice["logprobs"]!;
        var tokens = lp["tokens"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
        Assert.Equal(6, tokens.Count);
        Assert.Equal(6, lp["token_logprobs"]!.AsArray().Count);
        Assert.All(lp["token_logprobs"]!.AsArray(), l => Assert.True(l!.GetValue<float>() <= 0));
        Assert.All(lp["top_logprobs"]!.AsArray(), m => Assert.InRange(m!.AsObject().Count, 1, 2));
        // Greedy: each chosen token is the most likely one.
        for (int i = 0; i < 6; i++)
            Assert.Equal(lp["top_logprobs"]![i]!.AsObject().MaxBy(p => p.Value!.GetValue<float>()).Key, tokens[i]);
        Assert.Equal(0, lp["text_offset"]![0]!.GetValue<int>());
    }

    [Fact]
    public async Task JsonObjectResponseFormatGivesJson()
    {
        var (status, body) = await PostJson(Client, "/v1/completions",
            new { model = Model, prompt = Prompt, max_tokens = 200, seed = 3, response_format = new { type = "json_object" } });
        Assert.Equal(200, status);
        var choice = body["choices"]![0]!;
        if (choice["finish_reason"]!.GetValue<string>() == "stop")
            Assert.Equal(System.Text.Json.JsonValueKind.Object, System.Text.Json.JsonDocument.Parse(choice["text"]!.GetValue<string>()).RootElement.ValueKind);
        else Assert.StartsWith("{", choice["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task JsonSchemaResponseFormatValidates()
    {
        const string schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":6},"ok":{"type":"boolean"}},"required":["name","ok"]}""";
        var (status, body) = await PostJson(Client, "/v1/completions", new
        {
            model = Model, prompt = Prompt, max_tokens = 60, n = 4, seed = 11,
            response_format = new { type = "json_schema", json_schema = new { name = "t", schema = JsonNode.Parse(schema) } },
        });
        Assert.Equal(200, status);
        foreach (var c in body["choices"]!.AsArray())
        {
            Assert.Equal("stop", c!["finish_reason"]!.GetValue<string>());
            Assert.Null(JsonSchemaCheck.Validate(c["text"]!.GetValue<string>(), schema));
        }
    }

    [Fact]
    public async Task GuidedChoicePicksOneOption()
    {
        var (status, body) = await PostJson(Client, "/v1/completions",
            new { model = Model, prompt = Prompt, max_tokens = 10, n = 8, seed = 1, guided_choice = new[] { "red", "green", "blue" } });
        Assert.Equal(200, status);
        Assert.All(body["choices"]!.AsArray(), c => Assert.Contains(c!["text"]!.GetValue<string>(), new[] { "red", "green", "blue" }));
    }

    [Fact]
    public async Task ChatWithoutATemplateIsAClearError()
    {
        var (status, body) = await PostJson(Client, "/v1/chat/completions", new { model = Model, messages = new[] { new { role = "user", content = "Hi" } } });
        Assert.Equal(400, status);
        AssertOpenAIError(body, "messages");
        Assert.Contains("no chat template", body["error"]!["message"]!.GetValue<string>());
        Assert.Contains("--chat-template", body["error"]!["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"temperature": 3}""", "temperature")]
    [InlineData("""{"top_p": 1.5}""", "top_p")]
    [InlineData("""{"n": 0}""", "n")]
    [InlineData("""{"max_tokens": 0}""", "max_tokens")]
    [InlineData("""{"presence_penalty": 2.5}""", "presence_penalty")]
    [InlineData("""{"stop": ["a","b","c","d","e"]}""", "stop")]
    [InlineData("""{"logprobs": 6}""", "logprobs")]
    [InlineData("""{"max_tokens": 100000}""", "prompt")]
    [InlineData("""{"guided_regex": "a(b"}""", "guided_regex")]
    [InlineData("""{"response_format": {"type": "xml"}}""", "response_format.type")]
    [InlineData("""{"stream_options": {"include_usage": true}}""", "stream_options")]
    public async Task InvalidCompletionParametersAre400s(string extra, string param)
    {
        var request = JsonNode.Parse(extra)!.AsObject();
        request["model"] = Model;
        request["prompt"] = Prompt;
        var (status, body) = await PostJson(Client, "/v1/completions", request);
        Assert.Equal(400, status);
        AssertOpenAIError(body, param);
        Assert.Equal("invalid_request_error", body["error"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task InvalidGrammarSaysWhy()
    {
        var (status, body) = await PostJson(Client, "/v1/completions", new { model = Model, prompt = Prompt, guided_regex = "a{1001}" });
        Assert.Equal(400, status);
        Assert.StartsWith("grammar is too large: ", body["error"]!["message"]!.GetValue<string>());
        (status, body) = await PostJson(Client, "/v1/completions", new { model = Model, prompt = Prompt, guided_regex = "(?<=a)b" });
        Assert.Equal(400, status);
        Assert.StartsWith("grammar is not valid: ", body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnyModelNameIsServedAsTheServedId_RetrievingAnotherIs404_BadJsonIs400()
    {
        // A single-model server answers whatever name the client hard-codes (as TGI and llama-server); the gateway is strict.
        var (status, body) = await PostJson(Client, "/v1/completions", new { model = "gpt-9", prompt = Prompt, max_tokens = 3 });
        Assert.Equal(200, status);
        Assert.Equal(Model, body["model"]!.GetValue<string>());

        using var retrieve = await Client.GetAsync("/v1/models/gpt-9");
        Assert.Equal(404, (int)retrieve.StatusCode);
        var notFound = JsonNode.Parse(await retrieve.Content.ReadAsStringAsync())!;
        Assert.Equal("model_not_found", notFound["error"]!["code"]!.GetValue<string>());

        using var response = await Client.PostAsync("/v1/chat/completions", new StringContent("{nope", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(400, (int)response.StatusCode);
        AssertOpenAIError(JsonNode.Parse(await response.Content.ReadAsStringAsync())!, null);
    }
}

/// <summary>Chat over a template file passed as --chat-template (ServerOptions.ChatTemplatePath).</summary>
public sealed class OpenAIChatTests(TemplatedServer fixture) : IClassFixture<TemplatedServer>
{
    private TestServer Server => fixture.Server!;

    // ChatML as Qwen documents it; written out here, not rendered by our template engine.
    private const string ExpectedPrompt = "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n";

    private static object[] Messages => [new { role = "system", content = "You tell stories." }, new { role = "user", content = "Tell me a story." }];

    [SharedFact]
    public async Task ChatCompletionRendersTheTemplate()
    {
        var s = Server;
        var (status, body) = await PostJson(s.Client, "/v1/chat/completions",
            new { model = s.State.ModelId, messages = Messages, max_completion_tokens = 12, temperature = 0, logprobs = true, top_logprobs = 2 });
        Assert.Equal(200, status);
        Assert.StartsWith("chatcmpl-", body["id"]!.GetValue<string>());
        Assert.Equal("chat.completion", body["object"]!.GetValue<string>());
        var choice = body["choices"]![0]!;
        Assert.Equal("assistant", choice["message"]!["role"]!.GetValue<string>());
        Assert.NotNull(choice["message"]!["content"]);
        Assert.Equal("length", choice["finish_reason"]!.GetValue<string>());
        var content = choice["logprobs"]!["content"]!.AsArray();
        Assert.Equal(12, content.Count);
        Assert.All(content, t => Assert.Equal(2, t!["top_logprobs"]!.AsArray().Count));
        Assert.Equal(string.Concat(content.Select(t => t!["token"]!.GetValue<string>())), choice["message"]!["content"]!.GetValue<string>());
        int expectedPromptTokens = s.State.Tokenizer.EncodeToIds(ExpectedPrompt, addSpecialTokens: false).Count;
        Assert.Equal(expectedPromptTokens, body["usage"]!["prompt_tokens"]!.GetValue<int>());
        Assert.Equal(12, body["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [SharedFact]
    public async Task StreamedChatMatchesUnaryChat()
    {
        var s = Server;
        var (_, unary) = await PostJson(s.Client, "/v1/chat/completions", new { model = s.State.ModelId, messages = Messages, max_tokens = 20, temperature = 0 });
        var (status, events, done, _) = await PostStream(s.Client, "/v1/chat/completions",
            new { model = s.State.ModelId, messages = Messages, max_tokens = 20, temperature = 0, stream = true });
        Assert.Equal(200, status);
        Assert.True(done);
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e["object"]!.GetValue<string>()));
        Assert.Equal("assistant", events[0]["choices"]![0]!["delta"]!["role"]!.GetValue<string>());
        string text = string.Concat(events.Select(e => e["choices"]![0]!["delta"]!["content"]?.GetValue<string>() ?? ""));
        Assert.Equal(unary["choices"]![0]!["message"]!["content"]!.GetValue<string>(), text);
        Assert.Equal("length", events[^1]["choices"]![0]!["finish_reason"]!.GetValue<string>());
    }

    [SharedFact]
    public async Task ChatJsonSchemaResponseFormat()
    {
        var s = Server;
        const string schema = """{"type":"object","properties":{"answer":{"enum":["yes","no"]}},"required":["answer"]}""";
        var (status, body) = await PostJson(s.Client, "/v1/chat/completions", new
        {
            model = s.State.ModelId, messages = Messages, max_tokens = 30, seed = 5, n = 3,
            response_format = new { type = "json_schema", json_schema = new { name = "a", schema = JsonNode.Parse(schema), strict = true } },
        });
        Assert.Equal(200, status);
        Assert.Equal(3, body["choices"]!.AsArray().Count);
        foreach (var c in body["choices"]!.AsArray())
            Assert.Null(JsonSchemaCheck.Validate(c!["message"]!["content"]!.GetValue<string>(), schema));
    }

    [SharedFact]
    public async Task ChatRejectsAnUnknownRole()
    {
        var s = Server;
        var (status, body) = await PostJson(s.Client, "/v1/chat/completions", new { model = s.State.ModelId, messages = new[] { new { role = "wizard", content = "x" } } });
        Assert.Equal(400, status);
        AssertOpenAIError(body, "messages[0].role");
    }
}
