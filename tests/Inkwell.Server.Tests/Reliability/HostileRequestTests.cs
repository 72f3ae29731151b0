using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>
/// The findings of the hostile-client probe (issue 11), each through the real HTTP stack: overflowing limits, text
/// that cannot be decoded, bodies that are not JSON by their content type, oversized inputs and bodies, and error
/// statuses that used to come without a body. Every refusal must be a 4xx in the route's own error shape.
/// </summary>
public class HostileRequestTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private HttpClient Client => fixture.Server.Client;

    private static readonly string[] JsonRoutes = ["/generate", "/generate_stream", "/", "/tokenize", "/v1/completions", "/v1/chat/completions"];

    private async Task<(int Status, string Body)> PostRaw(string path, byte[] body, string? contentType = "application/json")
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var response = await Client.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task<(int Status, string Body)> PostText(string path, string json, string? contentType = "application/json") =>
        PostRaw(path, Encoding.UTF8.GetBytes(json), contentType);

    // ---- finding 2: max_new_tokens near int.MaxValue ----

    [Theory]
    [InlineData("/generate", """{"inputs": "Once upon a time", "parameters": {"max_new_tokens": 2147483647}}""")]
    [InlineData("/generate_stream", """{"inputs": "Once upon a time", "parameters": {"max_new_tokens": 2147483646}}""")]
    [InlineData("/v1/completions", """{"model": "m", "prompt": "Once upon a time", "max_tokens": 2147483647}""")]
    public async Task MaxNewTokens_NearIntMax_IsAContextLengthRefusal(string path, string json)
    {
        var (status, body) = await PostText(path, json);
        Assert.Equal(ApiShape.Of(path) == Shape.Tgi ? 422 : 400, status);
        ApiShape.AssertError(ApiShape.Of(path), body);
        Assert.Contains("2147483", body);
    }

    // ---- finding 3: text that cannot be decoded ----

    public static IEnumerable<object[]> UndecodableBodies()
    {
        // JSON escapes of lone surrogates: valid JSON syntax, but no .NET (or Rust) string can hold them.
        string lone = "\\ud800", lowOnly = "\\udc00x";
        yield return ["/v1/completions", $$"""{"model": "m", "prompt": "a{{lone}}b", "max_tokens": 2}"""];
        yield return ["/v1/completions", $$"""{"model": "m", "prompt": ["ok", "a{{lone}}"], "max_tokens": 2}"""];
        yield return ["/v1/completions", $$"""{"model": "m", "prompt": "a", "stop": "{{lone}}", "max_tokens": 2}"""];
        yield return ["/v1/completions", $$"""{"model": "m", "prompt": "a", "stop": ["x", "{{lowOnly}}"], "max_tokens": 2}"""];
        yield return ["/v1/chat/completions", $$"""{"model": "m", "messages": [{"role": "user", "content": "{{lowOnly}}"}]}"""];
        yield return ["/v1/chat/completions", $$"""{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "{{lone}}"}]}]}"""];
        yield return ["/v1/completions", $$$"""{"model": "m", "prompt": "a", "max_tokens": 2, "guided_json": {"enum": ["{{{lone}}}"]}}"""];
        yield return ["/v1/completions", $$"""{"model": "m", "prompt": "a", "max_tokens": 2, "guided_json": "{\"enum\": [\"{{lone}}\"]}"}"""];
        yield return ["/generate", "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 2, \"grammar\": {\"type\": \"regex\", \"value\": \"" + lone + "\"}}}"];
        yield return ["/generate", "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 2, \"grammar\": {\"type\": \"json\", \"value\": {\"enum\": [\"" + lone + "\"]}}}}"];
        yield return ["/generate", $$$"""{"inputs": "a{{{lone}}}", "parameters": {"max_new_tokens": 2}}"""];
        yield return ["/tokenize", $$"""{"inputs": "a{{lone}}"}"""];
    }

    [Theory]
    [MemberData(nameof(UndecodableBodies))]
    public async Task LoneSurrogateEscapes_AreRefusedInTheApisShape(string path, string json)
    {
        var (status, body) = await PostText(path, json);
        Assert.Equal(ApiShape.Of(path) == Shape.Tgi ? 422 : 400, status);
        ApiShape.AssertError(ApiShape.Of(path), body);
        Assert.Contains("surrogate", body);
    }

    [Theory]
    [InlineData("/v1/completions", """{"model": "m", "prompt": "a#b", "max_tokens": 2}""")]
    [InlineData("/v1/completions", """{"model": "m", "prompt": "a", "stop": "#", "max_tokens": 2}""")]
    [InlineData("/v1/chat/completions", """{"model": "m", "messages": [{"role": "user", "content": "#"}]}""")]
    [InlineData("/v1/completions", """{"model": "m", "prompt": "a", "max_tokens": 2, "guided_json": {"enum": ["#"]}}""")]
    [InlineData("/generate", """{"inputs": "a", "parameters": {"max_new_tokens": 2, "grammar": {"type": "regex", "value": "#"}}}""")]
    [InlineData("/generate", """{"inputs": "a#", "parameters": {"max_new_tokens": 2}}""")]
    public async Task InvalidUtf8_IsRefusedInTheApisShape(string path, string json)
    {
        // '#' marks where a byte no UTF-8 text holds goes: a bare continuation byte, then an overlong lead.
        var bytes = Encoding.UTF8.GetBytes(json).SelectMany(b => b == (byte)'#' ? new byte[] { 0x80, 0xC0, 0xAF } : [b]).ToArray();
        var (status, body) = await PostRaw(path, bytes);
        Assert.Equal(ApiShape.Of(path) == Shape.Tgi ? 422 : 400, status);
        ApiShape.AssertError(ApiShape.Of(path), body);
        Assert.Contains("UTF-8", body);
    }

    // ---- finding 6: only application/json runs anything ----

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/json; charset=latin1")]
    [InlineData(null)]
    public async Task NonJsonContentTypes_Get415_OnEveryJsonRoute(string? contentType)
    {
        foreach (var path in JsonRoutes)
        {
            string json = path.StartsWith("/v1/", StringComparison.Ordinal)
                ? """{"model": "m", "prompt": "Once", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}"""
                : """{"inputs": "Once", "parameters": {"max_new_tokens": 1}}""";
            var (status, body) = await PostText(path, json, contentType);
            Assert.True(status == 415, $"{path} with {contentType ?? "no content type"}: {status} {body}");
            ApiShape.AssertError(ApiShape.Of(path), body);
            Assert.Contains("application/json", body);
        }
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("application/json;charset=UTF-8")]
    [InlineData("Application/JSON")]
    public async Task JsonContentTypes_AreAccepted(string contentType)
    {
        var (status, body) = await PostText("/generate", """{"inputs": "Once", "parameters": {"max_new_tokens": 1}}""", contentType);
        Assert.True(status == 200, body);
    }

    // ---- finding 4: /tokenize is bounded ----

    [Fact]
    public async Task Tokenize_OverTheInputLimit_Is422()
    {
        int maxInput = fixture.Server.State.Validator.Limits.MaxInputTokens;
        string inputs = string.Concat(Enumerable.Repeat("Once upon a time ", maxInput));
        var (status, body) = await PostText("/tokenize", new JsonObject { ["inputs"] = inputs }.ToJsonString());
        Assert.Equal(422, status);
        ApiShape.AssertError(Shape.Tgi, body);
        Assert.Contains($"`inputs` must have less than {maxInput} tokens", JsonNode.Parse(body)!["error"]!.GetValue<string>());
        Assert.True(body.Length < 1000, "the refusal must not carry the tokens");
    }

    [Theory]
    [InlineData("/tokenize")]
    [InlineData("/generate")]
    [InlineData("/v1/completions")]
    public async Task BodiesOverThePayloadLimit_Get413InTheApisShape(string path)
    {
        // TGI's default --payload-limit.
        const int limit = 2_000_000;
        string json = new JsonObject { ["inputs"] = new string('a', limit + 10), ["model"] = "m", ["prompt"] = "a" }.ToJsonString();
        var (status, body) = await PostText(path, json);
        Assert.Equal(413, status);
        ApiShape.AssertError(ApiShape.Of(path), body);
    }

    [Fact]
    public async Task Tokenize_WithinTheLimit_StillAnswers()
    {
        var (status, body) = await PostText("/tokenize", """{"inputs": "Once upon a time"}""");
        Assert.Equal(200, status);
        Assert.Equal(fixture.Server.State.Tokenizer.EncodeToTokens("Once upon a time").Count, JsonNode.Parse(body)!.AsArray().Count);
    }

    // ---- finding 7: every error status has a body in its API's shape ----

    [Theory]
    [InlineData("/generate")]
    [InlineData("/v1/completions")]
    public async Task OversizedHeaders_Get431WithABody(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new StringContent("""{"inputs": "a", "model": "m", "prompt": "a"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Padding", new string('x', 40 * 1024));
        using var response = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        ApiShape.AssertError(ApiShape.Of(path), await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET", "/no-such-route", 404)]
    [InlineData("GET", "/v1/no-such-route", 404)]
    [InlineData("GET", "/generate", 405)]
    [InlineData("PUT", "/v1/completions", 405)]
    public async Task FrameworkStatuses_GetABody(string method, string path, int expected)
    {
        using var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(expected, (int)response.StatusCode);
        ApiShape.AssertError(ApiShape.Of(path), await response.Content.ReadAsStringAsync());
    }
}
