using Inkwell.Server.Grpc.Fmaas;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Inkwell.Server.Grpc;

/// <summary>Options of the TGIS service beyond what the backend reports.</summary>
public sealed class GenerationServiceOptions
{
    /// <summary>Whether stop sequences stay in the output when the request leaves include_stop_sequence unset (TGIS default: true).</summary>
    public bool DefaultIncludeStopSequence { get; set; } = true;
}

public static class GenerationServiceEndpoints
{
    public const string ServiceName = "fmaas.GenerationService";

    /// <summary>
    /// Maps POST /fmaas.GenerationService/{Generate,GenerateStream,Tokenize,ModelInfo}; needs an
    /// <see cref="IGenerationBackend"/> in DI. Returns the group so callers can scope it, e.g. .RequireHost("*:8033").
    /// </summary>
    public static IEndpointConventionBuilder MapGenerationService(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("");
        group.MapGrpcMethod(GrpcMethod<BatchedGenerationRequest, BatchedGenerationResponse>.Unary(
            ServiceName, "Generate", BatchedGenerationRequest.Parser, (request, call) => Service(call).GenerateAsync(request, call)));
        group.MapGrpcMethod(GrpcMethod<SingleGenerationRequest, GenerationResponse>.ServerStreaming(
            ServiceName, "GenerateStream", SingleGenerationRequest.Parser, (request, call) => Service(call).GenerateStreamAsync(request, call)));
        group.MapGrpcMethod(GrpcMethod<BatchedTokenizeRequest, BatchedTokenizeResponse>.Unary(
            ServiceName, "Tokenize", BatchedTokenizeRequest.Parser, (request, call) => Service(call).TokenizeAsync(request, call)));
        group.MapGrpcMethod(GrpcMethod<ModelInfoRequest, ModelInfoResponse>.Unary(
            ServiceName, "ModelInfo", ModelInfoRequest.Parser, (request, call) => Service(call).ModelInfoAsync(request, call)));
        group.MapGrpcUnimplementedMethods(ServiceName);
        return group;
    }

    // Resolved per call so the backend may have any DI lifetime.
    private static GenerationService Service(GrpcCallContext call)
    {
        var services = call.HttpContext.RequestServices;
        var backend = services.GetRequiredService<IGenerationBackend>();
        var options = services.GetService<IOptions<GenerationServiceOptions>>()?.Value ?? new GenerationServiceOptions();
        return new GenerationService(backend, new GenerationParameterValidator(backend.ModelInfo, options.DefaultIncludeStopSequence));
    }
}
