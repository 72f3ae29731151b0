using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Grpc;

public enum GrpcMethodType
{
    Unary,
    ServerStreaming,
}

/// <summary>
/// One RPC: its route (/package.Service/Method) and how to run it. Services build these with
/// <see cref="Unary"/> and <see cref="ServerStreaming"/> and map them with MapGrpcMethod.
/// </summary>
public sealed class GrpcMethod<TRequest, TResponse>
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private readonly Func<GrpcCallContext, Task> _invoke;

    private GrpcMethod(string serviceName, string name, GrpcMethodType type, Func<GrpcCallContext, Task> invoke)
    {
        ServiceName = serviceName;
        Name = name;
        Type = type;
        _invoke = invoke;
    }

    public string ServiceName { get; }
    public string Name { get; }
    public GrpcMethodType Type { get; }
    public string Path => $"/{ServiceName}/{Name}";

    public static GrpcMethod<TRequest, TResponse> Unary(string serviceName, string name, MessageParser<TRequest> parser,
        Func<TRequest, GrpcCallContext, Task<TResponse>> handler) =>
        new(serviceName, name, GrpcMethodType.Unary, async call =>
        {
            var request = await call.ReadRequestAsync(parser);
            var response = await handler(request, call);
            // No flush: the message and the trailers can leave together.
            await call.WriteResponseAsync(response, flush: false);
        });

    public static GrpcMethod<TRequest, TResponse> ServerStreaming(string serviceName, string name, MessageParser<TRequest> parser,
        Func<TRequest, GrpcCallContext, IAsyncEnumerable<TResponse>> handler) =>
        new(serviceName, name, GrpcMethodType.ServerStreaming, async call =>
        {
            var request = await call.ReadRequestAsync(parser);
            await foreach (var response in handler(request, call).WithCancellation(call.CancellationToken))
            {
                await call.WriteResponseAsync(response, flush: true);
            }
        });

    public Task InvokeAsync(HttpContext httpContext) =>
        GrpcCallHandler.HandleAsync(httpContext, _invoke);
}
