namespace Inkwell.Server.Grpc;

/// <summary>Names and values from the gRPC over HTTP/2 spec (grpc/doc/PROTOCOL-HTTP2.md).</summary>
internal static class GrpcProtocol
{
    public const string ContentType = "application/grpc";
    public const string StatusHeader = "grpc-status";
    public const string MessageHeader = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";

    /// <summary>The only message encoding we speak; compression is not implemented.</summary>
    public const string IdentityEncoding = "identity";

    /// <summary>application/grpc, application/grpc+proto, optionally with parameters; other subtypes (+json) are not ours.</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase)) return false;
        var rest = contentType.AsSpan(ContentType.Length);
        int parameters = rest.IndexOf(';');
        if (parameters >= 0) rest = rest[..parameters];
        rest = rest.Trim();
        return rest.IsEmpty || rest.Equals("+proto", StringComparison.OrdinalIgnoreCase);
    }
}
