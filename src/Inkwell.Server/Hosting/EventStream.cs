using System.Buffers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Hosting;

/// <summary>Server-sent events for the TGI and OpenAI routes, written by System.Net.ServerSentEvents' SseFormatter (one JSON payload per event).</summary>
internal static class EventStream
{
    /// <summary>Sets the SSE headers, then writes each payload as a "data:" event, flushed as it comes.</summary>
    public static Task WriteAsync(HttpResponse response, IAsyncEnumerable<object> payloads, JsonSerializerOptions options, CancellationToken ct)
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["x-accel-buffering"] = "no";
        return SseFormatter.WriteAsync(Items(payloads, ct), response.Body, (item, buffer) =>
        {
            if (item.Data is string raw)
            {
                buffer.Write(System.Text.Encoding.UTF8.GetBytes(raw));
                return;
            }
            using var writer = new Utf8JsonWriter(buffer);
            JsonSerializer.Serialize(writer, item.Data, item.Data.GetType(), options);
        }, ct);
    }

    private static async IAsyncEnumerable<SseItem<object>> Items(IAsyncEnumerable<object> payloads, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var payload in payloads.WithCancellation(ct)) yield return new SseItem<object>(payload);
    }
}
