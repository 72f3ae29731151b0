using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;

namespace Inkwell.Client.Http;

/// <summary>Reads the data of server-sent events with the platform's <see cref="SseParser"/>, bounding the wait for each event.</summary>
internal static class ServerSentEvents
{
    /// <param name="idleTimeout">Longest wait for the next event; exceeding it throws a Timeout InferenceClientException.</param>
    public static async IAsyncEnumerable<SseItem<string>> ReadAsync(
        Stream stream, TimeSpan idleTimeout, string endpoint, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var events = SseParser.Create(stream).EnumerateAsync(idle.Token).GetAsyncEnumerator(idle.Token);
        try
        {
            while (true)
            {
                idle.CancelAfter(idleTimeout);
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false)) yield break;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new InferenceClientException(
                        new InferenceError(InferenceFailureKind.Timeout, $"no stream event within {idleTimeout.TotalSeconds:0.###}s", Endpoint: endpoint),
                        isTransient: false);
                }
                catch (IOException ex)
                {
                    throw new InferenceClientException(
                        new InferenceError(InferenceFailureKind.Connection, $"stream broken: {ex.Message}", Endpoint: endpoint),
                        isTransient: false, ex);
                }
                yield return events.Current;
            }
        }
        finally
        {
            await events.DisposeAsync().ConfigureAwait(false);
        }
    }
}
