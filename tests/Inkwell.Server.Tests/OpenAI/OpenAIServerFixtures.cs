using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.OpenAI;

/// <summary>The embedded model served with a real instruct model's chat template from ../shared/templates (ChatML).</summary>
public sealed class TemplatedServer : IAsyncLifetime
{
    public const string TemplateFile = "Qwen-Qwen2.5-7B-Instruct.jinja";

    public TestServer? Server { get; private set; }

    public async Task InitializeAsync()
    {
        // Without ../shared the tests that use this skip ([SharedFact]); nothing to start.
        if (RepoPaths.HasShared)
            Server = await TestServer.StartAsync(new ServerOptions { ChatTemplatePath = RepoPaths.InShared("templates", TemplateFile) });
    }

    public async Task DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
    }
}

internal static class Http
{
    public static async Task<(int Status, JsonNode Body)> PostJson(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!);
    }

    /// <summary>Reads an SSE response to the end: the JSON payloads of its data lines, and whether it ended with [DONE].</summary>
    public static async Task<(int Status, List<JsonNode> Events, bool Done, string ContentType)> PostStream(HttpClient client, string path, object body)
    {
        using var response = await client.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        var events = new List<JsonNode>();
        bool done = false;
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            // SSE allows "data:" with or without a space; TGI writes none, OpenAI one.
            Assert.StartsWith("data:", block);
            string data = block["data:".Length..];
            if (data.StartsWith(' ')) data = data[1..];
            Assert.False(done, "data after [DONE]");
            if (data == "[DONE]") done = true;
            else events.Add(JsonNode.Parse(data)!);
        }
        return ((int)response.StatusCode, events, done, response.Content.Headers.ContentType?.MediaType ?? "");
    }

    public static void AssertOpenAIError(JsonNode body, string? param)
    {
        var error = body["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key).ToArray());
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
        Assert.False(string.IsNullOrEmpty(error["type"]!.GetValue<string>()));
        Assert.Equal(param, error["param"]?.GetValue<string>());
    }
}
