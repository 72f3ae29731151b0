using System.Text;
using Inkwell.Client.Http;
using Inkwell.Client.Tests.Fakes;

namespace Inkwell.Client.Tests.Http;

public class ServerSentEventsTests
{
    private static async Task<List<ServerSentEvent>> ReadAllAsync(IEnumerable<byte[]> chunks)
    {
        var events = new List<ServerSentEvent>();
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
        Assert.Equal([null, null, "error"], events.Select(e => e.EventName));
    }

    [Fact]
    public async Task EventsSplitAtEveryByteIncludingInsideUtf8Characters()
    {
        var bytes = Encoding.UTF8.GetBytes(ThreeEvents);
        var events = await ReadAllAsync(bytes.Select(b => new[] { b }));
        Assert.Equal(["{\"a\":1}", "{\"b\":\"é✓\"}", "line1\nline2"], events.Select(e => e.Data));
    }

    [Fact]
    public async Task LastEventWithoutBlankLineStillCounts()
    {
        var events = await ReadAllAsync([Encoding.UTF8.GetBytes("data: [DONE]")]);
        Assert.Equal("[DONE]", Assert.Single(events).Data);
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
