using System.Text.Json;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Client.Tests.Fakes;

/// <summary>A small Kestrel server on loopback whose routes each test defines, imitating TGI / OpenAI with
/// fixed behaviour. It can be stopped and restarted on the same port.</summary>
internal sealed class FakeInferenceServer : IAsyncDisposable
{
    private readonly LoopbackHost _host;

    private FakeInferenceServer(LoopbackHost host) => _host = host;

    public int Port => _host.Port;

    public Uri BaseAddress => _host.BaseAddress;

    public static async Task<FakeInferenceServer> StartAsync(Action<WebApplication> routes) =>
        new(await LoopbackHost.StartAsync(routes));

    public Task StopAsync() => _host.StopAsync();

    /// <summary>Starts again on the port it had, as a restarted endpoint would.</summary>
    public Task RestartAsync() => _host.RestartAsync();

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    // Helpers for route handlers.

    public static async Task<JsonElement> ReadJsonAsync(HttpContext context)
    {
        using var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        return doc.RootElement.Clone();
    }

    public static Task WriteJsonAsync(HttpContext context, string json, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(json, context.RequestAborted);
    }

    /// <summary>TGI's error body.</summary>
    public static Task WriteErrorAsync(HttpContext context, int status, string error, string errorType) =>
        WriteJsonAsync(context, JsonSerializer.Serialize(new Dictionary<string, string> { ["error"] = error, ["error_type"] = errorType }), status);

    /// <summary>Starts an SSE response; each <paramref name="chunks"/> item is written and flushed on its own,
    /// with a pause between, so the client sees them as separate reads.</summary>
    public static async Task WriteSseChunksAsync(HttpContext context, params string[] chunks)
    {
        context.Response.ContentType = "text/event-stream";
        foreach (var chunk in chunks)
        {
            await context.Response.WriteAsync(chunk, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(20, context.RequestAborted);
        }
    }

    public static string TokenEvent(int index, int id, string text, string? generatedText = null, string? finishReason = null)
    {
        var token = JsonSerializer.Serialize(new { id, text, logprob = -0.5, special = false });
        var generated = generatedText is null ? "null" : JsonSerializer.Serialize(generatedText);
        var details = finishReason is null ? "null" : $$"""{"finish_reason":"{{finishReason}}","generated_tokens":{{index + 1}},"seed":null,"input_length":3}""";
        return $$"""data:{"index":{{index}},"token":{{token}},"top_tokens":null,"generated_text":{{generated}},"details":{{details}}}""" + "\n\n";
    }
}
