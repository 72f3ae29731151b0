using Grpc.Core;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Metrics;
using Microsoft.Extensions.Options;

namespace Inkwell.Server.Grpc;

/// <summary>Options of the TGIS service beyond what the backend reports.</summary>
public sealed class GenerationServiceOptions
{
    /// <summary>Whether stop sequences stay in the output when the request leaves include_stop_sequence unset (TGIS default: true).</summary>
    public bool DefaultIncludeStopSequence { get; set; } = true;
}

/// <summary>
/// fmaas.GenerationService over <see cref="IGenerationBackend"/>: validates TGIS requests and hands them on.
/// Grpc.AspNetCore does the transport (framing, compression, deadlines: the context's token fires when the client
/// cancels or its deadline passes); an <see cref="RpcException"/> from here or the backend is the call's status.
/// </summary>
internal sealed class TgisGenerationService(IGenerationBackend backend, IOptions<GenerationServiceOptions> options, ServerMetrics? metrics = null)
    : GenerationService.GenerationServiceBase
{
    private readonly GenerationParameterValidator _validator = new(backend.ModelInfo, options.Value.DefaultIncludeStopSequence);

    /// <summary>TGIS's parameter checks; a refusal counts as tgi_request_failure{err="validation"} (the backend counts the rest).</summary>
    private ValidatedGenerationParameters Validate(Parameters? parameters)
    {
        try
        {
            return _validator.Validate(parameters);
        }
        catch (RpcException)
        {
            metrics?.RequestFailure.Increment("validation");
            throw;
        }
    }

    public override async Task<BatchedGenerationResponse> Generate(BatchedGenerationRequest request, ServerCallContext context)
    {
        var response = new BatchedGenerationResponse();
        if (request.Requests.Count == 0) return response;

        var parameters = Validate(request.Params);
        string? prefixId = request.HasPrefixId ? request.PrefixId : null;
        string? adapterId = request.HasAdapterId ? request.AdapterId : null;

        if (backend is IBatchGenerationBackend batched)
        {
            response.Responses.AddRange(await batched.GenerateBatchAsync(
                [.. request.Requests.Select(input => new ValidatedGenerationRequest(input.Text, prefixId, parameters, adapterId))], context.CancellationToken));
            return response;
        }

        // One failing input fails the batch (as TGIS's try_join_all does); stop the others' work then.
        using var batchSource = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var generations = request.Requests
            .Select(input => GenerateOneAsync(new ValidatedGenerationRequest(input.Text, prefixId, parameters, adapterId), batchSource))
            .ToArray();
        response.Responses.AddRange(await Task.WhenAll(generations));
        return response;
    }

    public override async Task GenerateStream(SingleGenerationRequest request, IServerStreamWriter<GenerationResponse> responseStream,
        ServerCallContext context)
    {
        // Validation throws before the first message, so a bad request ends trailers-only, with no stream started.
        if (request.Request is null) throw new RpcException(new Status(StatusCode.InvalidArgument, "missing request"));
        var parameters = Validate(request.Params);
        var validated = new ValidatedGenerationRequest(request.Request.Text, request.HasPrefixId ? request.PrefixId : null, parameters,
            request.HasAdapterId ? request.AdapterId : null);
        await foreach (var message in backend.GenerateStreamAsync(validated, context.CancellationToken).WithCancellation(context.CancellationToken))
        {
            await responseStream.WriteAsync(message, context.CancellationToken);
        }
    }

    public override async Task<BatchedTokenizeResponse> Tokenize(BatchedTokenizeRequest request, ServerCallContext context)
    {
        var tokenizeOptions = new TokenizeOptions(request.ReturnTokens, request.ReturnOffsets,
            request.TruncateInputTokens > int.MaxValue ? int.MaxValue : (int)request.TruncateInputTokens);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var response = new BatchedTokenizeResponse();
        long tokens = 0;
        foreach (var input in request.Requests)
        {
            var tokenized = await backend.TokenizeAsync(input.Text, tokenizeOptions, context.CancellationToken);
            tokens += tokenized.TokenCount;
            response.Responses.Add(tokenized);
        }
        metrics?.ObserveTokenize(request.Requests.Count, tokens, System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return response;
    }

    public override Task<ModelInfoResponse> ModelInfo(ModelInfoRequest request, ServerCallContext context)
    {
        var model = backend.ModelInfo;
        return Task.FromResult(new ModelInfoResponse
        {
            ModelKind = model.Kind,
            MaxSequenceLength = (uint)model.MaxSequenceLength,
            MaxNewTokens = (uint)model.MaxNewTokens,
        });
    }

    private async Task<GenerationResponse> GenerateOneAsync(ValidatedGenerationRequest request, CancellationTokenSource batchSource)
    {
        try
        {
            return await backend.GenerateAsync(request, batchSource.Token);
        }
        catch
        {
            await batchSource.CancelAsync();
            throw;
        }
    }
}
