using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inkwell.Client.Tests.Fakes;

/// <summary>A small Kestrel server on loopback whose routes each test defines, imitating TGI / OpenAI with
/// fixed behaviour. It can be stopped and restarted on the same port.</summary>
internal sealed class FakeInferenceServer : IAsyncDisposable
{
    private readonly Action<WebApplication> _routes;
    private WebApplication? _app;

    private FakeInferenceServer(Action<WebApplication> routes) => _routes = routes;

    public int Port { get; private set; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    public static async Task<FakeInferenceServer> StartAsync(Action<WebApplication> routes)
    {
        var server = new FakeInferenceServer(routes);
        await server.StartOnAsync(port: 0);
        return server;
    }

    public async Task StopAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    /// <summary>Starts again on the port it had, as a restarted endpoint would.</summary>
    public Task RestartAsync() => _app is null ? StartOnAsync(Port) : Task.CompletedTask;

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        _routes(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Port = new Uri(address).Port;
        _app = app;
    }

    public ValueTask DisposeAsync() => new(StopAsync());

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
