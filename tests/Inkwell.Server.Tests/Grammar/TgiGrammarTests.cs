using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Inkwell.Server.Tests.Tgi;
using static Inkwell.Server.Tests.OpenAI.Http;

namespace Inkwell.Server.Tests.Grammar;

/// <summary>TGI's `grammar` parameter over HTTP: regex, json (schema object or text), json_schema, choice; errors as TGI's 422.</summary>
public sealed class TgiGrammarTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private HttpClient Client => fixture.Server.Client;

    private static object Request(object grammar, int maxNewTokens = 60) =>
        new { inputs = "Once upon a time", parameters = new { max_new_tokens = maxNewTokens, do_sample = true, seed = 4, grammar } };

    [Fact]
    public async Task RegexGrammarConstrainsGenerate()
    {
        const string pattern = @"[A-Z][a-z]{1,6} is \d{1,2} years old\.";
        var (status, body) = await PostJson(Client, "/generate", Request(new { type = "regex", value = pattern }));
        Assert.Equal(200, status);
        Assert.Matches(new Regex($"^(?:{pattern})\\z"), body["generated_text"]!.GetValue<string>());
    }

    [Fact]
    public async Task EveryBestOfSequenceFollowsTheGrammar()
    {
        // Each best_of sequence walks the grammar with its own state; a shared state would corrupt all but one.
        const string pattern = @"[A-Z][a-z]{1,6} (is|was) \d{1,2} years old\.";
        for (int attempt = 0; attempt < 5; attempt++)
        {
            var (status, body) = await PostJson(Client, "/generate", new
            {
                inputs = "Once upon a time",
                parameters = new { max_new_tokens = 40, do_sample = true, best_of = 2, details = true, grammar = new { type = "regex", value = pattern } },
            });
            Assert.Equal(200, status);
            var regex = new Regex($"^(?:{pattern})\\z");
            Assert.Matches(regex, body["generated_text"]!.GetValue<string>());
            var others = body["details"]!["best_of_sequences"]!.AsArray();
            Assert.Single(others);
            Assert.Matches(regex, others[0]!["generated_text"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("json")]
    [InlineData("json_object")]
    public async Task JsonGrammarTakesASchemaObjectOrText(string type)
    {
        const string schema = """{"type":"object","properties":{"hero":{"type":"string","maxLength":7},"brave":{"type":"boolean"}},"required":["hero","brave"]}""";
        foreach (object value in new object[] { JsonNode.Parse(schema)!, schema })
        {
            var (status, body) = await PostJson(Client, "/generate", Request(new { type, value }));
            Assert.Equal(200, status);
            Assert.Null(JsonSchemaCheck.Validate(body["generated_text"]!.GetValue<string>(), schema));
        }
    }

    [Fact]
    public async Task StreamedGrammarOutputMatches()
    {
        var (status, events, _, _) = await PostStream(Client, "/generate_stream", Request(new { type = "choice", value = new[] { "alpha", "beta" } }));
        Assert.Equal(200, status);
        Assert.Contains(events[^1]["generated_text"]!.GetValue<string>(), new[] { "alpha", "beta" });
    }

    [Theory]
    [InlineData("regex", "\"a(b\"", "grammar is not valid: ")]
    [InlineData("regex", "\"a{1001}\"", "grammar is too large: ")]
    [InlineData("json", "{\"type\":\"object\",\"minProperties\":1}", "grammar is not valid: ")]
    [InlineData("json", "\"{not json\"", "grammar is not valid: ")]
    [InlineData("yaml", "\"x: 1\"", "grammar is not valid: ")]
    [InlineData("json", "{\"type\":\"string\",\"pattern\":\"x)|(.*\"}", "grammar is not valid: ")]    // issue 11 item 5
    [InlineData("json", TenSelfReferences, "grammar is too large: ")]                                  // issue 11 item 1
    public async Task BadGrammarsAre422s(string type, string valueJson, string prefix)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (status, body) = await PostJson(Client, "/generate", Request(new { type, value = JsonNode.Parse(valueJson) }));
        Assert.Equal(422, status);
        Assert.Equal("validation", body["error_type"]!.GetValue<string>());
        Assert.StartsWith("Input validation error: " + prefix, body["error"]!.GetValue<string>());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"answered after {clock.Elapsed.TotalSeconds:0.0} s"); // was 30 s, and the compile ran on
    }

    private const string TenSelfReferences = """
        {"type":"object","properties":{"a":{"$ref":"#"},"b":{"$ref":"#"},"c":{"$ref":"#"},"d":{"$ref":"#"},"e":{"$ref":"#"},"f":{"$ref":"#"},"g":{"$ref":"#"},"h":{"$ref":"#"},"i":{"$ref":"#"},"j":{"$ref":"#"}}}
        """;
}
