using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Inkwell.Server.Tgi;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Gateway;

/// <summary>Copies an upstream answer to the caller as it arrives: status, headers, then the body. An event stream
/// is relayed event by event (SseParser in, SseFormatter out, each event sent as it comes), anything else chunk by chunk.</summary>
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
            // Only failures reading the upstream are the deployment's; a caller gone away just ends the copy.
            var readFailure = new StrongBox<Exception?>();
            if (IsEventStream(response.ContentType))
                await SseFormatter.WriteAsync(UpstreamEventsAsync(body, readFailure, ct), response.Body, ct);
            else
                await CopyChunksAsync(body, response.Body, readFailure, ct);
            if (readFailure.Value is { } e) await FailMidwayAsync(ctx, deploymentName, e);
        }
    }

    private static bool IsEventStream(string? contentType) =>
        contentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;

    private static async IAsyncEnumerable<SseItem<string>> UpstreamEventsAsync(Stream body, StrongBox<Exception?> readFailure,
        [EnumeratorCancellation] CancellationToken ct)
    {
        await using var events = SseParser.Create(body).EnumerateAsync(ct).GetAsyncEnumerator(ct);
        while (true)
        {
            try
            {
                if (!await events.MoveNextAsync()) yield break;
            }
            catch (Exception e) when (IsUpstreamFailure(e, ct))
            {
                readFailure.Value = e;
                yield break;
            }
            yield return events.Current;
        }
    }

    private static async Task CopyChunksAsync(Stream body, Stream destination, StrongBox<Exception?> readFailure, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await body.ReadAsync(buffer, ct);
            }
            catch (Exception e) when (IsUpstreamFailure(e, ct))
            {
                readFailure.Value = e;
                return;
            }
            if (read == 0) return;
            await destination.WriteAsync(buffer.AsMemory(0, read), ct);
            await destination.FlushAsync(ct);
        }
    }

    private static bool IsUpstreamFailure(Exception e, CancellationToken ct) => e is HttpRequestException or IOException && !ct.IsCancellationRequested;

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
        if (IsEventStream(ctx.Response.ContentType))
        {
            var error = JsonSerializer.Serialize(new ErrorResponseDto(message, "unhealthy"), TgiJson.Options);
            await SseFormatter.WriteAsync(new[] { new SseItem<string>(error) }.ToAsyncEnumerable(), ctx.Response.Body);
            return;
        }
        ctx.Abort();
    }
}
