using System.Runtime.CompilerServices;
using System.Text;

namespace Inkwell.Client.Http;

/// <summary>One server-sent event: its optional name and its data lines joined by '\n'.</summary>
internal readonly record struct ServerSentEvent(string? EventName, string Data);

/// <summary>Reads server-sent events from a byte stream, however the bytes were split into chunks.</summary>
internal static class ServerSentEvents
{
    /// <param name="idleTimeout">Longest wait for the next line; exceeding it throws a Timeout InferenceClientException.</param>
    public static async IAsyncEnumerable<ServerSentEvent> ReadAsync(
        Stream stream, TimeSpan idleTimeout, string endpoint, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);
        using var idleCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var data = new StringBuilder();
        var hasData = false;
        string? eventName = null;
        while (true)
        {
            string? line;
            idleCts.CancelAfter(idleTimeout);
            try
            {
                line = await reader.ReadLineAsync(idleCts.Token).ConfigureAwait(false);
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
            if (line is null)
            {
                // A last event without its blank line still counts.
                if (hasData) yield return new ServerSentEvent(eventName, data.ToString());
                yield break;
            }
            if (line.Length == 0)
            {
                if (hasData) yield return new ServerSentEvent(eventName, data.ToString());
                data.Clear();
                hasData = false;
                eventName = null;
                continue;
            }
            if (line[0] == ':') continue; // comment / keep-alive
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..];
            switch (field)
            {
                case "data":
                    if (hasData) data.Append('\n');
                    data.Append(value);
                    hasData = true;
                    break;
                case "event":
                    eventName = value;
                    break;
                    // id and retry are irrelevant to a one-shot generation stream
            }
        }
    }
}
