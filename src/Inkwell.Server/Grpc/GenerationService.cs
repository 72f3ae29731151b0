using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Grpc;

/// <summary>fmaas.GenerationService: decodes TGIS requests, validates them and hands them to the backend.</summary>
internal sealed class GenerationService(IGenerationBackend backend, GenerationParameterValidator validator)
{
    public async Task<BatchedGenerationResponse> GenerateAsync(BatchedGenerationRequest request, GrpcCallContext call)
    {
        var response = new BatchedGenerationResponse();
        if (request.Requests.Count == 0) return response;

        var parameters = validator.Validate(request.Params);
        string? prefixId = request.HasPrefixId ? request.PrefixId : null;

        if (backend is IBatchGenerationBackend batched)
        {
            response.Responses.AddRange(await batched.GenerateBatchAsync(
                [.. request.Requests.Select(input => new ValidatedGenerationRequest(input.Text, prefixId, parameters))], call.CancellationToken));
            return response;
        }

        // One failing input fails the batch (as TGIS's try_join_all does); stop the others' work then.
        using var batchSource = CancellationTokenSource.CreateLinkedTokenSource(call.CancellationToken);
        var generations = request.Requests
            .Select(input => GenerateOneAsync(new ValidatedGenerationRequest(input.Text, prefixId, parameters), batchSource))
            .ToArray();
        response.Responses.AddRange(await Task.WhenAll(generations));
        return response;
    }

    public IAsyncEnumerable<GenerationResponse> GenerateStreamAsync(SingleGenerationRequest request, GrpcCallContext call)
    {
        // Validate before the first message so a bad request ends trailers-only, with no stream started.
        if (request.Request is null) throw new GrpcStatusException(GrpcStatusCode.InvalidArgument, "missing request");
        var parameters = validator.Validate(request.Params);
        var validated = new ValidatedGenerationRequest(request.Request.Text, request.HasPrefixId ? request.PrefixId : null, parameters);
        return backend.GenerateStreamAsync(validated, call.CancellationToken);
    }

    public async Task<BatchedTokenizeResponse> TokenizeAsync(BatchedTokenizeRequest request, GrpcCallContext call)
    {
        var options = new TokenizeOptions(request.ReturnTokens, request.ReturnOffsets,
            request.TruncateInputTokens > int.MaxValue ? int.MaxValue : (int)request.TruncateInputTokens);
        var response = new BatchedTokenizeResponse();
        foreach (var input in request.Requests)
        {
            response.Responses.Add(await backend.TokenizeAsync(input.Text, options, call.CancellationToken));
        }
        return response;
    }

    public Task<ModelInfoResponse> ModelInfoAsync(ModelInfoRequest request, GrpcCallContext call)
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
