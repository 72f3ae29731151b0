namespace Inkwell.Server.Grpc;

/// <summary>Limits of the gRPC layer; configure with services.Configure&lt;GrpcServerOptions&gt;(...).</summary>
public sealed class GrpcServerOptions
{
    /// <summary>Largest request message accepted (bytes); larger ones end the call with RESOURCE_EXHAUSTED. gRPC's default is 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest response message sent (bytes); larger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxSendMessageSize { get; set; } = int.MaxValue;
}
