using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inkwell.Server.Grpc;

public static class GrpcEndpointRouteBuilderExtensions
{
    /// <summary>Maps POST {method.Path} to the method.</summary>
    public static IEndpointConventionBuilder MapGrpcMethod<TRequest, TResponse>(this IEndpointRouteBuilder endpoints, GrpcMethod<TRequest, TResponse> method)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage<TResponse> =>
        endpoints.MapPost(method.Path, method.InvokeAsync).WithDisplayName("gRPC " + method.Path);

    /// <summary>
    /// Answers any other method of the service with UNIMPLEMENTED, as gRPC servers do, rather than HTTP 404.
    /// Literal method routes win over this parameter route.
    /// </summary>
    public static IEndpointConventionBuilder MapGrpcUnimplementedMethods(this IEndpointRouteBuilder endpoints, string serviceName) =>
        endpoints.MapPost($"/{serviceName}/{{method}}", (RequestDelegate)(http =>
            GrpcCallHandler.HandleAsync(http, _ => throw new GrpcStatusException(GrpcStatusCode.Unimplemented,
                $"Method is unimplemented: /{serviceName}/{http.Request.RouteValues["method"]}"))))
            .WithDisplayName($"gRPC /{serviceName}/ unimplemented");
}
