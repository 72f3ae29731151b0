using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Inkwell.Server.Grpc;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>gRPC by hand over HttpClient with HTTP/2 prior knowledge: frames requests and reads frames, headers and trailers.</summary>
internal static class RawGrpcClient
{
    public static HttpClient Create(Uri baseAddress, HttpMessageHandler? handler = null) =>
        new(handler ?? new SocketsHttpHandler()) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public static byte[] Frame(IMessage message, byte compressedFlag = 0) => Frame(message.ToByteArray(), compressedFlag);

    public static byte[] Frame(byte[] payload, byte compressedFlag = 0)
    {
        var frame = new byte[GrpcFraming.HeaderSize + payload.Length];
        frame[0] = compressedFlag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, GrpcFraming.HeaderSize);
        return frame;
    }

    public static HttpRequestMessage Request(string method, byte[] body, string contentType = "application/grpc", string? timeout = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/fmaas.GenerationService/" + method)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (timeout is not null) request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        return request;
    }

    public static async Task<RawGrpcResponse> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        return new RawGrpcResponse(response.StatusCode, response.Version, SplitFrames(body), Header(response.TrailingHeaders, "grpc-status"),
            Header(response.TrailingHeaders, "grpc-message"), Header(response.Headers, "grpc-status"), Header(response.Headers, "grpc-message"),
            response.Content.Headers.ContentType?.MediaType);
    }

    public static List<byte[]> SplitFrames(ReadOnlySpan<byte> body)
    {
        var frames = new List<byte[]>();
        while (!body.IsEmpty)
        {
            Assert.Equal(0, body[0]);
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(body[1..]);
            frames.Add(body.Slice(GrpcFraming.HeaderSize, length).ToArray());
            body = body[(GrpcFraming.HeaderSize + length)..];
        }
        return frames;
    }

    /// <summary>Reads exactly one frame from a response stream that is still open.</summary>
    public static async Task<byte[]> ReadFrameAsync(Stream stream)
    {
        var header = new byte[GrpcFraming.HeaderSize];
        await stream.ReadExactlyAsync(header);
        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        await stream.ReadExactlyAsync(payload);
        return payload;
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;
}

/// <summary>What came back; a trailers-only response has its status in the headers and no trailers.</summary>
internal sealed record RawGrpcResponse(HttpStatusCode HttpStatus, Version HttpVersion, List<byte[]> Messages,
    string? TrailerStatus, string? TrailerMessage, string? HeaderStatus, string? HeaderMessage, string? ContentType)
{
    public GrpcStatusCode Status => (GrpcStatusCode)int.Parse(TrailerStatus ?? HeaderStatus ?? throw new InvalidOperationException("no grpc-status"),
        System.Globalization.CultureInfo.InvariantCulture);

    public string? Message => (TrailerMessage ?? HeaderMessage) is { } encoded ? GrpcMessageEncoding.PercentDecode(encoded) : null;

    public bool IsTrailersOnly => HeaderStatus is not null && TrailerStatus is null && Messages.Count == 0;
}
