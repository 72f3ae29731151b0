using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace Inkwell.Server.Grpc;

/// <summary>
/// gRPC's Length-Prefixed-Message: 1 byte compressed flag, 4 bytes big-endian length, then the message bytes.
/// </summary>
internal static class GrpcFraming
{
    public const int HeaderSize = 5;

    /// <summary>
    /// Takes one whole message off the front of <paramref name="buffer"/>; false when more bytes are needed.
    /// Throws as soon as the header shows a message we will not accept, without waiting for its bytes.
    /// </summary>
    public static bool TryReadMessage(ref ReadOnlySequence<byte> buffer, int maxMessageSize, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < HeaderSize) return false;

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        switch (header[0])
        {
            case 0: break;
            case 1:
                throw new GrpcStatusException(GrpcStatusCode.Unimplemented,
                    "Compressed messages are not supported; the only accepted grpc-encoding is identity.");
            default:
                throw new GrpcStatusException(GrpcStatusCode.Internal, $"Invalid compressed flag {header[0]} in message header.");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxMessageSize)
        {
            throw new GrpcStatusException(GrpcStatusCode.ResourceExhausted,
                $"Received message larger than max ({length} vs. {maxMessageSize})");
        }
        if (buffer.Length - HeaderSize < length) return false;

        message = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(message.End);
        return true;
    }

    /// <summary>Reads the one request message of a unary or server-streaming call, up to the end of the request body.</summary>
    public static async Task<T> ReadSingleMessageAsync<T>(PipeReader reader, MessageParser<T> parser, int maxMessageSize, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        T? message = default;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                if (message is null && TryReadMessage(ref buffer, maxMessageSize, out var payload))
                {
                    message = Parse(parser, payload);
                }
                if (message is not null && !buffer.IsEmpty)
                {
                    throw new GrpcStatusException(GrpcStatusCode.Internal, "Additional data after the request message.");
                }
                if (result.IsCompleted)
                {
                    return message ?? throw new GrpcStatusException(GrpcStatusCode.Internal,
                        buffer.IsEmpty ? "Request did not include a message." : "Incomplete request message.");
                }
            }
            finally
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
    }

    public static void WriteMessage(IBufferWriter<byte> writer, IMessage message, int maxMessageSize)
    {
        int size = message.CalculateSize();
        if (size > maxMessageSize)
        {
            throw new GrpcStatusException(GrpcStatusCode.ResourceExhausted,
                $"Sending message larger than max ({size} vs. {maxMessageSize})");
        }

        Span<byte> header = writer.GetSpan(HeaderSize);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..HeaderSize], (uint)size);
        writer.Advance(HeaderSize);
        message.WriteTo(writer);
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySequence<byte> payload) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new GrpcStatusException(GrpcStatusCode.Internal, "Error deserializing the request message: " + e.Message);
        }
    }
}
