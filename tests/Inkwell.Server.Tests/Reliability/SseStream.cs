using System.Net.Http.Headers;
using System.Text;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>A server-sent-event response read event by event, so a test can stop reading (or hang up) anywhere.</summary>
internal sealed class SseStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public int Status => (int)_response.StatusCode;
    public bool IsEventStream => _response.Content.Headers.ContentType?.MediaType == "text/event-stream";

    public static async Task<SseStream> OpenAsync(HttpClient client, string path, string json, CancellationToken ct = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        return new SseStream(response, new StreamReader(await response.Content.ReadAsStreamAsync(ct), Encoding.UTF8));
    }

    /// <summary>The next event's data, or null at the end of the stream. A non-SSE body comes back whole, once.</summary>
    public async Task<string?> NextAsync(CancellationToken ct = default)
    {
        if (!IsEventStream) return await _reader.ReadToEndAsync(ct) is { Length: > 0 } whole ? whole : null;
        var data = new StringBuilder();
        while (await _reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0) return data.ToString();
                continue;
            }
            if (line.StartsWith("data:", StringComparison.Ordinal)) data.Append(line.AsSpan(line.StartsWith("data: ", StringComparison.Ordinal) ? 6 : 5));
        }
        return data.Length > 0 ? data.ToString() : null;
    }

    /// <summary>Every remaining event.</summary>
    public async Task<List<string>> RestAsync(CancellationToken ct = default)
    {
        var events = new List<string>();
        while (await NextAsync(ct) is { } e) events.Add(e);
        return events;
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
