using System.Net;
using System.Net.Sockets;
using System.Text;
using Inkwell.Server.Http;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>
/// Errors no route chose: unhandled exceptions (500 with error_type and no stack trace; inside an event stream a
/// final error event), and Kestrel's slow-body timeout (408), each in the API's shape.
/// </summary>
public class ErrorShapingTests
{
    /// <summary>Routes that fail the way a bug would: before the response, and in the middle of an event stream.</summary>
    private static Task<LoopbackHost> StartFailingApp() => LoopbackHost.StartAsync(port =>
    {
        var builder = LoopbackHost.CreateBuilder();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.UseErrorShaping(new RequestLimits(PayloadBytes: 1 << 20));
        RequestDelegate fail = _ => throw new InvalidOperationException("secret detail at /home/inkwell/src/Thing.cs");
        app.MapPost("/generate", fail);
        app.MapPost("/v1/completions", fail);
        RequestDelegate failMidStream = async http =>
        {
            http.Response.ContentType = "text/event-stream";
            await http.Response.WriteAsync("data:{\"token\":1}\n\n");
            await http.Response.Body.FlushAsync();
            throw new InvalidOperationException("secret detail");
        };
        app.MapPost("/generate_stream", failMidStream);
        app.MapPost("/v1/chat/completions", failMidStream);
        return app;
    });

    [Theory]
    [InlineData("/generate")]
    [InlineData("/v1/completions")]
    public async Task UnhandledException_Is500WithTheApisBody_AndNoInternals(string path)
    {
        await using var host = await StartFailingApp();
        using var client = host.CreateClient();
        using var response = await client.PostAsync(path, new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        ApiShape.AssertError(ApiShape.Of(path), body);
        ApiShape.AssertNoInternals(body);
        Assert.DoesNotContain("secret", body);
        if (ApiShape.Of(path) == Shape.Tgi) Assert.Contains("\"error_type\":\"internal\"", body);
        else Assert.Contains("\"type\":\"server_error\"", body);
    }

    [Theory]
    [InlineData("/generate_stream")]
    [InlineData("/v1/chat/completions")]
    public async Task UnhandledException_MidStream_EndsWithAnErrorEvent(string path)
    {
        await using var host = await StartFailingApp();
        using var client = host.CreateClient();
        using var response = await client.PostAsync(path, new StringContent("{}", Encoding.UTF8, "application/json"));
        // The stream ends cleanly (no reset: reading it to the end succeeds) and its last event is an error.
        string body = await response.Content.ReadAsStringAsync();
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, events.Length);
        string last = events[^1]["data:".Length..].TrimStart();
        ApiShape.AssertError(ApiShape.Of(path), last);
        Assert.DoesNotContain("secret", last);
    }

    [Theory]
    [InlineData("/generate")]
    [InlineData("/v1/completions")]
    public async Task SlowBody_Is408WithTheApisBody(string path)
    {
        await using var server = await TestServer.StartAsync(configure: builder => builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1000, gracePeriod: TimeSpan.FromSeconds(2))));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Client.BaseAddress!.Port);
        var stream = tcp.GetStream();
        string head = $"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"inputs\": \"";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        // Then a trickle far below the minimum rate, until the server answers.
        var answer = new MemoryStream();
        var buffer = new byte[8192];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        var read = stream.ReadAsync(buffer).AsTask();
        while (DateTime.UtcNow < deadline)
        {
            if (await Task.WhenAny(read, Task.Delay(500)) == read) break;
            try { await stream.WriteAsync("a"u8.ToArray()); } catch (IOException) { break; }
        }
        int n = await read;
        while (n > 0)
        {
            answer.Write(buffer, 0, n);
            if (Encoding.ASCII.GetString(answer.ToArray()).Contains("\r\n\r\n") && HasWholeBody(answer.ToArray())) break;
            n = await stream.ReadAsync(buffer);
        }
        string text = Encoding.UTF8.GetString(answer.ToArray());
        Assert.StartsWith("HTTP/1.1 408", text);
        int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string body = text[(headEnd + 4)..];
        if (IsChunked(text[..headEnd])) body = Dechunk(body);
        ApiShape.AssertError(ApiShape.Of(path), body);
    }

    private static bool IsChunked(string head) => head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase);

    private static string Dechunk(string body)
    {
        var text = new StringBuilder();
        int at = 0;
        while (true)
        {
            int lineEnd = body.IndexOf("\r\n", at, StringComparison.Ordinal);
            int size = Convert.ToInt32(body[at..lineEnd], 16);
            if (size == 0) return text.ToString();
            text.Append(body, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }

    private static bool HasWholeBody(byte[] response)
    {
        string text = Encoding.ASCII.GetString(response);
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (IsChunked(text[..end])) return text.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
        var length = text[..end].Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        return length is null || response.Length - end - 4 >= int.Parse(length["Content-Length:".Length..].Trim());
    }
}
