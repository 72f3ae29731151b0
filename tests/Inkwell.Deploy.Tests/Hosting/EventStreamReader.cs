using System.Text;
using System.Text.Json.Nodes;

namespace Inkwell.Deploy.Tests.Hosting;

/// <summary>How one TGI event stream ended: its token events, the final event's generated_text, or an error event.</summary>
public sealed record StreamOutcome(int Status, int TokenEvents, string? GeneratedText, string? Error);

/// <summary>A TGI generate_stream read as it arrives: a task that completes at the first token event (so a test can act
/// while the generation runs) and one with the whole stream's outcome.</summary>
public sealed class EventStreamReader
{
    private readonly TaskCompletionSource _firstEvent = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EventStreamReader(HttpClient client, string path, string body)
    {
        Outcome = ReadAsync(client, path, body);
        // A stream that fails before its first event must not leave the test waiting for that event.
        Outcome.ContinueWith(_ => _firstEvent.TrySetResult(), TaskScheduler.Default);
    }

    public Task FirstEvent => _firstEvent.Task;
    public Task<StreamOutcome> Outcome { get; }

    public static EventStreamReader Open(HttpClient client, string path, string body) => new(client, path, body);

    private async Task<StreamOutcome> ReadAsync(HttpClient client, string path, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        int status = (int)response.StatusCode;
        if (!response.IsSuccessStatusCode) return new StreamOutcome(status, 0, null, await response.Content.ReadAsStringAsync());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        int tokens = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
            var json = JsonNode.Parse(line["data:".Length..])!.AsObject();
            if (json["error"] is { } error) return new StreamOutcome(status, tokens, null, error.ToJsonString());
            tokens++;
            _firstEvent.TrySetResult();
            if (json["generated_text"] is JsonValue text) return new StreamOutcome(status, tokens, text.GetValue<string>(), null);
        }
        return new StreamOutcome(status, tokens, null, "the stream ended without a final event");
    }
}
