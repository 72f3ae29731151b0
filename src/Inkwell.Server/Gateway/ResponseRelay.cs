using System.Text.Json;
using Inkwell.Server.Tgi;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Gateway;

/// <summary>Copies an upstream answer to the caller as it arrives: status, headers, and the body chunk by chunk
/// (each flushed, so token streams stay streams).</summary>
internal static class ResponseRelay
{
    // Hop-by-hop headers belong to one connection, and Kestrel frames the body itself.
    private static readonly HashSet<string> Skipped = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection", "Server", "Date",
    };

    public static async Task CopyAsync(HttpResponseMessage upstream, HttpContext ctx, string deploymentName)
    {
        var response = ctx.Response;
        response.StatusCode = (int)upstream.StatusCode;
        foreach (var (name, values) in upstream.Headers.Concat(upstream.Content.Headers))
            if (!Skipped.Contains(name)) response.Headers[name] = values.ToArray();

        var ct = ctx.RequestAborted;
        var buffer = new byte[16 * 1024];
        Stream body;
        try
        {
            body = await upstream.Content.ReadAsStreamAsync(ct);
        }
        catch (HttpRequestException e)
        {
            await FailMidwayAsync(ctx, deploymentName, e);
            return;
        }
        await using (body)
        {
            while (true)
            {
                int read;
                try
                {
                    read = await body.ReadAsync(buffer, ct);
                }
                catch (Exception e) when (e is HttpRequestException or IOException && !ct.IsCancellationRequested)
                {
                    await FailMidwayAsync(ctx, deploymentName, e);
                    return;
                }
                if (read == 0) return;
                await response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
                await response.Body.FlushAsync(ct);
            }
        }
    }

    /// <summary>The upstream went away after the answer began: an event stream gets a TGI error event (what
    /// clients already handle); anything else can only be cut off so the caller sees it incomplete.</summary>
    private static async Task FailMidwayAsync(HttpContext ctx, string deploymentName, Exception e)
    {
        var message = $"Deployment '{deploymentName}' stopped answering mid-response: {e.Message}";
        if (!ctx.Response.HasStarted)
        {
            ctx.Response.Headers.Clear();
            await TgiEndpoints.WriteError(ctx, 503, message, "unhealthy");
            return;
        }
        if (ctx.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new ErrorResponseDto(message, "unhealthy"), TgiJson.Options);
            await ctx.Response.Body.WriteAsync("data:"u8.ToArray());
            await ctx.Response.Body.WriteAsync(bytes);
            await ctx.Response.Body.WriteAsync("\n\n"u8.ToArray());
            return;
        }
        ctx.Abort();
    }
}
