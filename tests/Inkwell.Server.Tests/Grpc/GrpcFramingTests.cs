using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Inkwell.Server.Grpc;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Tests.Grpc;

public class GrpcFramingTests
{
    private static readonly ModelInfoRequest Message = new() { ModelId = "some-model" };

    [Fact]
    public void WriteMessage_PrefixesUncompressedFlagAndBigEndianLength()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcFraming.WriteMessage(writer, Message, int.MaxValue);

        var payload = Message.ToByteArray();
        Assert.Equal(new byte[] { 0, 0, 0, 0, (byte)payload.Length }, writer.WrittenSpan[..5].ToArray());
        Assert.Equal(payload, writer.WrittenSpan[5..].ToArray());
    }

    [Fact]
    public void WriteMessage_LargerThanSendLimit_IsResourceExhausted()
    {
        var error = Assert.Throws<GrpcStatusException>(() => GrpcFraming.WriteMessage(new ArrayBufferWriter<byte>(), Message, 3));
        Assert.Equal(GrpcStatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public void TryReadMessage_WaitsForWholeHeaderAndWholePayload()
    {
        var frame = RawGrpcClient.Frame(Message);
        for (int available = 0; available < frame.Length; available++)
        {
            var partial = new ReadOnlySequence<byte>(frame, 0, available);
            Assert.False(GrpcFraming.TryReadMessage(ref partial, 1024, out _));
            Assert.Equal(available, partial.Length);
        }

        var whole = new ReadOnlySequence<byte>(frame);
        Assert.True(GrpcFraming.TryReadMessage(ref whole, 1024, out var payload));
        Assert.True(whole.IsEmpty);
        Assert.Equal(Message, ModelInfoRequest.Parser.ParseFrom(payload));
    }

    [Fact]
    public void TryReadMessage_ReadsEmptyMessage()
    {
        var buffer = new ReadOnlySequence<byte>(RawGrpcClient.Frame([]));
        Assert.True(GrpcFraming.TryReadMessage(ref buffer, 0, out var payload));
        Assert.True(payload.IsEmpty);
    }

    [Fact]
    public void TryReadMessage_Oversize_FailsFromTheHeaderAlone()
    {
        var headerOnly = new ReadOnlySequence<byte>(new byte[] { 0, 0, 0x10, 0, 0 });
        var error = Assert.Throws<GrpcStatusException>(() => GrpcFraming.TryReadMessage(ref headerOnly, 1024, out _));
        Assert.Equal(GrpcStatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("Received message larger than max (1048576 vs. 1024)", error.Message);
    }

    [Fact]
    public void TryReadMessage_CompressedFlag_IsUnimplemented()
    {
        var buffer = new ReadOnlySequence<byte>(RawGrpcClient.Frame(Message, compressedFlag: 1));
        var error = Assert.Throws<GrpcStatusException>(() => GrpcFraming.TryReadMessage(ref buffer, 1024, out _));
        Assert.Equal(GrpcStatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public void TryReadMessage_UnknownFlag_IsInternal()
    {
        var buffer = new ReadOnlySequence<byte>(RawGrpcClient.Frame(Message, compressedFlag: 7));
        Assert.Equal(GrpcStatusCode.Internal, Assert.Throws<GrpcStatusException>(() => GrpcFraming.TryReadMessage(ref buffer, 1024, out _)).StatusCode);
    }

    [Fact]
    public async Task ReadSingleMessage_AssemblesBytesArrivingOneAtATime()
    {
        var pipe = new Pipe();
        var read = GrpcFraming.ReadSingleMessageAsync(pipe.Reader, ModelInfoRequest.Parser, 1024, CancellationToken.None);
        foreach (byte b in RawGrpcClient.Frame(Message))
        {
            Assert.False(read.IsCompleted);
            await pipe.Writer.WriteAsync(new[] { b });
        }
        await pipe.Writer.CompleteAsync();

        Assert.Equal(Message, await read);
    }

    [Fact]
    public async Task ReadSingleMessage_WithNoMessage_IsInternal()
    {
        var error = await ReadAllAsync([]);
        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
        Assert.Equal("Request did not include a message.", error.Message);
    }

    [Fact]
    public async Task ReadSingleMessage_WithTruncatedMessage_IsInternal()
    {
        var frame = RawGrpcClient.Frame(Message);
        Assert.Equal("Incomplete request message.", (await ReadAllAsync(frame[..^1])).Message);
    }

    [Fact]
    public async Task ReadSingleMessage_WithTwoMessages_IsInternal()
    {
        var frame = RawGrpcClient.Frame(Message);
        Assert.Equal("Additional data after the request message.", (await ReadAllAsync([.. frame, .. frame])).Message);
    }

    [Fact]
    public async Task ReadSingleMessage_WithGarbagePayload_IsInternal()
    {
        var error = await ReadAllAsync(RawGrpcClient.Frame([0xFF, 0xFF, 0xFF]));
        Assert.Equal(GrpcStatusCode.Internal, error.StatusCode);
    }

    private static async Task<GrpcStatusException> ReadAllAsync(byte[] body)
    {
        var reader = PipeReader.Create(new ReadOnlySequence<byte>(body));
        return await Assert.ThrowsAsync<GrpcStatusException>(() =>
            GrpcFraming.ReadSingleMessageAsync(reader, ModelInfoRequest.Parser, 1024, CancellationToken.None));
    }
}
