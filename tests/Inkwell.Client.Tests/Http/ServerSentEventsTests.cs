using System.Net.ServerSentEvents;
using System.Text;
using Inkwell.Client.Http;
using Inkwell.Client.Tests.Fakes;

namespace Inkwell.Client.Tests.Http;

/// <summary>Reading through SseParser: chunking, UTF-8 splits, comments, multi-line data, and the idle timeout we add.</summary>
public class ServerSentEventsTests
{
    private static async Task<List<SseItem<string>>> ReadAllAsync(IEnumerable<byte[]> chunks)
    {
        var events = new List<SseItem<string>>();
        await foreach (var e in ServerSentEvents.ReadAsync(new ChunkedStream(chunks), TimeSpan.FromSeconds(5), "test"))
            events.Add(e);
        return events;
    }

    private const string ThreeEvents = "data:{\"a\":1}\n\ndata: {\"b\":\"é✓\"}\r\n\r\n: keep-alive\n\nevent: error\ndata: line1\ndata: line2\n\n";

    [Fact]
    public async Task ManyEventsInOneChunk()
    {
        var events = await ReadAllAsync([Encoding.UTF8.GetBytes(ThreeEvents)]);
        Assert.Equal(["{\"a\":1}", "{\"b\":\"é✓\"}", "line1\nline2"], events.Select(e => e.Data));
        // The SSE spec's default event type is "message".
        Assert.Equal(["message", "message", "error"], events.Select(e => e.EventType));
    }

    [Fact]
    public async Task EventsSplitAtEveryByteIncludingInsideUtf8Characters()
    {
        var bytes = Encoding.UTF8.GetBytes(ThreeEvents);
        var events = await ReadAllAsync(bytes.Select(b => new[] { b }));
        Assert.Equal(["{\"a\":1}", "{\"b\":\"é✓\"}", "line1\nline2"], events.Select(e => e.Data));
    }

    [Fact]
    public async Task LastEventWithoutBlankLine_IsNotDispatched()
    {
        // WHATWG HTML, "Interpreting an event stream": an event cut off before its blank line is discarded at end of file.
        var events = await ReadAllAsync([Encoding.UTF8.GetBytes("data: first\n\ndata: [DONE]")]);
        Assert.Equal("first", Assert.Single(events).Data);
    }

    [Fact]
    public async Task SilentStreamTimesOut()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        var ex = await Assert.ThrowsAsync<InferenceClientException>(async () =>
        {
            await foreach (var _ in ServerSentEvents.ReadAsync(pipe.Reader.AsStream(), TimeSpan.FromMilliseconds(100), "test")) { }
        });
        Assert.Equal(InferenceFailureKind.Timeout, ex.Kind);
    }
}
