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
        return SseFormatter.WriteAsync(Items(payloads, ct), response.Body, (item, buffer) => Format(item.Data, buffer, options), ct);
    }

    /// <summary>One last event on a stream already started (an error its handler did not turn into its own event).</summary>
    public static Task WriteFinalAsync(HttpResponse response, object payload, JsonSerializerOptions options, CancellationToken ct) =>
        SseFormatter.WriteAsync(Items(One(payload), ct), response.Body, (item, buffer) => Format(item.Data, buffer, options), ct);

    private static void Format(object data, IBufferWriter<byte> buffer, JsonSerializerOptions options)
    {
        if (data is string raw)
        {
            buffer.Write(System.Text.Encoding.UTF8.GetBytes(raw));
            return;
        }
        using var writer = new Utf8JsonWriter(buffer);
        JsonSerializer.Serialize(writer, data, data.GetType(), options);
    }

    private static async IAsyncEnumerable<object> One(object payload)
    {
        await Task.CompletedTask;
        yield return payload;
    }

    private static async IAsyncEnumerable<SseItem<object>> Items(IAsyncEnumerable<object> payloads, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var payload in payloads.WithCancellation(ct)) yield return new SseItem<object>(payload);
    }
}
