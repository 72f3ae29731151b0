using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Inkwell.Client.Http;

/// <summary>Turns SSE data payloads into typed events: stops at OpenAI's [DONE], raises an {"error": ...}
/// event as an exception, and under ReturnEmptyOnFailure ends with one empty event carrying the error.</summary>
internal static class JsonEventStream
{
    public static async IAsyncEnumerable<T> ReadAsync<T>(
        InferenceTransport transport, string route, Func<HttpContent?> content, JsonTypeInfo<T> eventType,
        Func<InferenceError, T> failedEvent, RequestOptions? requestOptions,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var events = transport.StreamAsync(route, content, requestOptions, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                T item;
                var failed = false;
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false)) yield break;
                    if (events.Current == "[DONE]") yield break;
                    item = Parse(events.Current, transport.Endpoint(route), eventType);
                }
                catch (InferenceClientException ex) when (transport.Options.ReturnEmptyOnFailure)
                {
                    item = failedEvent(ex.Error);
                    failed = true;
                }
                yield return item;
                if (failed) yield break;
            }
        }
        finally
        {
            await events.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static T Parse<T>(string data, string route, JsonTypeInfo<T> eventType)
    {
        try
        {
            using var doc = JsonDocument.Parse(data);
            if (InferenceTransport.TryReadStreamError(doc.RootElement, route, out var error)) throw error!;
            return doc.RootElement.Deserialize(eventType) ?? throw new JsonException("the event was JSON null");
        }
        catch (JsonException ex)
        {
            throw InferenceTransport.InvalidResponse(route, $"could not parse stream event as {typeof(T).Name}: {ex.Message}; data: {InferenceTransport.Truncate(data)}", ex);
        }
    }
}
