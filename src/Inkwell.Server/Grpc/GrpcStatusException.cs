namespace Inkwell.Server.Grpc;

/// <summary>Thrown by handlers (and the backend) to end a call with this status and message.</summary>
public sealed class GrpcStatusException(GrpcStatusCode statusCode, string message) : Exception(message)
{
    public GrpcStatusCode StatusCode { get; } = statusCode;
}
