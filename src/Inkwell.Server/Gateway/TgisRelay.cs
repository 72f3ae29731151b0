using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Inkwell.Client.Gateway;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Tgi;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Gateway;

/// <summary>
/// Serves the TGI routes of a deployment that speaks TGIS gRPC (fmaas.GenerationService), over Grpc.Net.Client:
/// generate -> Generate, generate_stream -> GenerateStream (one TGI event per TGIS message with text), info ->
/// ModelInfo, health -> grpc.health.v1. TGI parameters map to TGIS's field for field; those TGIS lacks (best_of,
/// watermark, grammar, top_n_tokens, decoder_input_details, frequency_penalty, adapter_id, logit_bias, ignore_eos) are refused.
/// TGIS reports no token ids, so relayed tokens carry id 0. Replicas are tried as over HTTP: another one when a call
/// fails UNAVAILABLE before its first message, never after.
/// </summary>
internal sealed class TgisRelay : IDisposable
{
    private readonly ConcurrentDictionary<Uri, GrpcChannel> _channels = new();

    /// <summary>A channel per replica (HTTP/2 without TLS to grpc://host:port), reused.</summary>
    private GrpcChannel Channel(Uri replica) =>
        _channels.GetOrAdd(replica, address => GrpcChannel.ForAddress(new UriBuilder(address) { Scheme = "http" }.Uri));

    /// <summary>The replica probe for grpc:// urls: grpc.health.v1 says SERVING.</summary>
    public async Task<bool> ProbeAsync(Uri replica, CancellationToken ct)
    {
        try
        {
            var reply = await new Health.HealthClient(Channel(replica)).CheckAsync(new HealthCheckRequest(), cancellationToken: ct);
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (RpcException)
        {
            return false;
        }
    }

    public async Task ServeAsync(HttpContext ctx, GatewayRoute route, string action, byte[]? body)
    {
        var replicas = route.Replicas!;
        var model = route.Resolution.Model.Name;
        switch (action)
        {
            case "generate" or "generate_stream":
                GenerateRequestDto? request;
                try
                {
                    request = JsonSerializer.Deserialize<GenerateRequestDto>(body ?? [], TgiJson.Options);
                }
                catch (JsonException e)
                {
                    await TgiEndpoints.WriteError(ctx, 422, $"Failed to parse the JSON body: {e.Message}", "validation");
                    return;
                }
                if (request?.Inputs is not { } inputs)
                {
                    await TgiEndpoints.WriteError(ctx, 422, "\"inputs\" is required.", "validation");
                    return;
                }
                if (Unsupported(request.Parameters) is { } refused)
                {
                    await TgiEndpoints.WriteError(ctx, 422,
                        $"Deployment '{route.Deployment.Name}' speaks TGIS gRPC, which has no {refused}; leave it out or pick another deployment.", "validation");
                    return;
                }
                var parameters = Parameters(request.Parameters);
                if (action == "generate")
                {
                    var batch = new BatchedGenerationRequest { ModelId = model, Params = parameters, Requests = { new GenerationRequest { Text = inputs } } };
                    var reply = await CallAsync(ctx, replicas, inputs, (client, ct) => client.GenerateAsync(batch, cancellationToken: ct).ResponseAsync);
                    if (reply is null) return;
                    var result = reply.Responses[0];
                    ctx.Response.Headers["x-generated-tokens"] = result.GeneratedTokenCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    ctx.Response.Headers["x-prompt-tokens"] = result.InputTokenCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var details = request.Parameters?.Details == true
                        ? new DetailsDto(FinishReason(result.StopReason), (int)result.GeneratedTokenCount, result.Seed, [], [.. result.Tokens.Select(Token)], null, null)
                        : null;
                    await ctx.Response.WriteAsJsonAsync(new GenerateResponseDto(result.Text, details), TgiJson.Options);
                }
                else
                {
                    var single = new SingleGenerationRequest { ModelId = model, Params = parameters, Request = new GenerationRequest { Text = inputs } };
                    await StreamAsync(ctx, replicas, inputs, single, request.Parameters?.Details == true);
                }
                return;
            case "info":
                var info = await CallAsync(ctx, replicas, null, (client, ct) => client.ModelInfoAsync(new ModelInfoRequest { ModelId = model }, cancellationToken: ct).ResponseAsync);
                if (info is null) return;
                await ctx.Response.WriteAsJsonAsync(new { model_id = model, max_total_tokens = info.MaxSequenceLength, max_new_tokens = info.MaxNewTokens, router = "tgis" }, TgiJson.Options);
                return;
            case "health":
                var healthy = false;
                foreach (var replica in replicas.Replicas.Where(r => r.IsHealthy))
                    if (healthy = await ProbeAsync(replica.BaseAddress, ctx.RequestAborted)) break;
                ctx.Response.StatusCode = healthy ? 200 : 503;
                return;
            default: // tokenize: TGIS's Tokenize returns token texts and offsets but no ids, which TGI's /tokenize answers with
                await TgiEndpoints.WriteError(ctx, 501, $"Deployment '{route.Deployment.Name}' speaks TGIS gRPC, whose tokenizer reports no token ids; /{action} needs them.", "not_supported");
                return;
        }
    }

    private static string? Unsupported(GenerateParametersDto? p) => p switch
    {
        null => null,
        { BestOf: > 1 } => "best_of",
        { Watermark: true } => "watermark",
        { Grammar: not null } => "grammar",
        { TopNTokens: > 0 } => "top_n_tokens",
        { DecoderInputDetails: true } => "decoder_input_details",
        { FrequencyPenalty: not null } => "frequency_penalty",
        { AdapterId: not null } => "adapter_id",
        { LogitBias: not null } => "logit_bias",
        { IgnoreEos: true } => "ignore_eos",
        _ => null,
    };

    /// <summary>TGI parameters as TGIS's: sampling when do_sample or any sampling knob is set (TGIS ignores the knobs
    /// under greedy), TGI's stop sequences kept in the text as TGI does.</summary>
    private static Parameters Parameters(GenerateParametersDto? p)
    {
        var parameters = new Parameters { Stopping = new StoppingCriteria(), Response = new ResponseOptions { GeneratedTokens = true, TokenLogprobs = true } };
        if (p is null) return parameters;
        var sample = p.DoSample || p.Temperature is not null || p.TopK is not null || p.TopP is not null || p.TypicalP is not null;
        parameters.Method = sample ? DecodingMethod.Sample : DecodingMethod.Greedy;
        parameters.Sampling = new SamplingParameters { Temperature = p.Temperature ?? 0, TopK = (uint)(p.TopK ?? 0), TopP = p.TopP ?? 0, TypicalP = p.TypicalP ?? 0 };
        if (p.Seed is { } seed) parameters.Sampling.Seed = seed;
        if (p.MaxNewTokens is { } max) parameters.Stopping.MaxNewTokens = (uint)Math.Max(max, 0);
        if (p.MinNewTokens is { } min) parameters.Stopping.MinNewTokens = (uint)Math.Max(min, 0);
        if (p.Stop is { Count: > 0 } stop)
        {
            parameters.Stopping.StopSequences.AddRange(stop);
            parameters.Stopping.IncludeStopSequence = true;
        }
        if (p.RepetitionPenalty is { } penalty) parameters.Decoding = new DecodingParameters { RepetitionPenalty = penalty };
        if (p.Truncate is { } truncate) parameters.TruncateInputTokens = (uint)Math.Max(truncate, 0);
        if (p.ReturnFullText == true) parameters.Response.InputText = true;
        return parameters;
    }

    /// <summary>A unary call on a replica, trying another when one is UNAVAILABLE; null once an error was written.</summary>
    private async Task<T?> CallAsync<T>(HttpContext ctx, ReplicaSet replicas, string? affinityKey,
        Func<GenerationService.GenerationServiceClient, CancellationToken, Task<T>> call) where T : class
    {
        var tried = new List<Replica>();
        RpcException? last = null;
        var key = affinityKey is null ? null : affinityKey[..Math.Min(affinityKey.Length, replicas.Routing.PrefixChars)];
        while (tried.Count < 3 && replicas.PickReplica(key, tried) is { } replica)
        {
            tried.Add(replica);
            ReplicaSet.BeginAttempt(replica);
            var clock = Stopwatch.StartNew();
            try
            {
                var result = await call(new GenerationService.GenerationServiceClient(Channel(replica.BaseAddress)), ctx.RequestAborted);
                replicas.EndAttempt(replica, new ReplicaAttempt(clock.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds, 200, false), null);
                return result;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && !ctx.RequestAborted.IsCancellationRequested)
            {
                replicas.EndAttempt(replica, new ReplicaAttempt(null, clock.Elapsed.TotalSeconds, null, true), $"gRPC UNAVAILABLE: {e.Status.Detail}");
                last = e;
            }
            catch (RpcException e)
            {
                replicas.EndAttempt(replica, new ReplicaAttempt(clock.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds, null, false), null);
                await WriteRpcErrorAsync(ctx, e);
                return null;
            }
        }
        await TgiEndpoints.WriteError(ctx, 503, $"Deployment '{replicas.Name}': no replica answered: {last?.Status.Detail ?? "none ready"}", "unhealthy");
        return null;
    }

    private async Task StreamAsync(HttpContext ctx, ReplicaSet replicas, string inputs, SingleGenerationRequest request, bool details)
    {
        var tried = new List<Replica>();
        RpcException? last = null;
        var key = inputs[..Math.Min(inputs.Length, replicas.Routing.PrefixChars)];
        while (tried.Count < 3 && replicas.PickReplica(key, tried) is { } replica)
        {
            tried.Add(replica);
            ReplicaSet.BeginAttempt(replica);
            var clock = Stopwatch.StartNew();
            using var call = new GenerationService.GenerationServiceClient(Channel(replica.BaseAddress)).GenerateStream(request, cancellationToken: ctx.RequestAborted);
            bool first;
            try
            {
                first = await call.ResponseStream.MoveNext(ctx.RequestAborted);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && !ctx.RequestAborted.IsCancellationRequested)
            {
                replicas.EndAttempt(replica, new ReplicaAttempt(null, clock.Elapsed.TotalSeconds, null, true), $"gRPC UNAVAILABLE: {e.Status.Detail}");
                last = e;
                continue;
            }
            catch (RpcException e)
            {
                replicas.EndAttempt(replica, new ReplicaAttempt(null, clock.Elapsed.TotalSeconds, null, false), null);
                await WriteRpcErrorAsync(ctx, e);
                return;
            }
            var headers = clock.Elapsed.TotalSeconds;
            try
            {
                ctx.Response.ContentType = "text/event-stream";
                await SseFormatter.WriteAsync(Events(call.ResponseStream, first, details, ctx.RequestAborted), ctx.Response.Body, ctx.RequestAborted);
            }
            finally
            {
                replicas.EndAttempt(replica, new ReplicaAttempt(headers, clock.Elapsed.TotalSeconds, 200, false), null);
            }
            return;
        }
        await TgiEndpoints.WriteError(ctx, 503, $"Deployment '{replicas.Name}': no replica answered: {last?.Status.Detail ?? "none ready"}", "unhealthy");
    }

    /// <summary>TGI stream events from TGIS messages: each message with text is a token, the last carries
    /// generated_text (and details); a failure after the first event becomes TGI's error event.</summary>
    private static async IAsyncEnumerable<SseItem<string>> Events(IAsyncStreamReader<GenerationResponse> stream, bool hasFirst, bool details,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var text = new System.Text.StringBuilder();
        GenerationResponse? pending = null;
        uint inputTokens = 0, generated = 0;
        ulong seed = 0;
        var stop = StopReason.NotFinished;
        var index = 0;
        var more = hasFirst;
        while (more)
        {
            var message = stream.Current;
            inputTokens = Math.Max(inputTokens, message.InputTokenCount);
            generated = Math.Max(generated, message.GeneratedTokenCount);
            if (message.Seed != 0) seed = message.Seed;
            if (message.StopReason != StopReason.NotFinished) stop = message.StopReason;
            if (message.Text.Length > 0)
            {
                if (pending is not null) yield return Event(new StreamResponseDto(++index, TokenOf(pending), [], null, null));
                pending = message;
                text.Append(message.Text);
            }
            string? failure = null;
            try
            {
                more = await stream.MoveNext(ct);
            }
            catch (RpcException e) when (!ct.IsCancellationRequested)
            {
                failure = $"The TGIS replica stopped answering mid-response: {e.Status.Detail}";
                more = false;
            }
            if (failure is not null)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(new ErrorResponseDto(failure, "unhealthy"), TgiJson.Options));
                yield break;
            }
        }
        if (pending is null) yield break;
        var streamDetails = details ? new StreamDetailsDto(FinishReason(stop), (int)generated, seed, (int)inputTokens) : null;
        yield return Event(new StreamResponseDto(++index, TokenOf(pending), [], text.ToString(), streamDetails));
    }

    private static TokenDto TokenOf(GenerationResponse message) =>
        new(0, message.Text, message.Tokens.Count > 0 ? message.Tokens[^1].Logprob : null, false);

    private static TokenDto Token(TokenInfo token) => new(0, token.Text, token.Logprob, false);

    private static SseItem<string> Event(StreamResponseDto dto) => new(JsonSerializer.Serialize(dto, TgiJson.Options));

    private static string FinishReason(StopReason reason) => reason switch
    {
        StopReason.MaxTokens or StopReason.TokenLimit => "length",
        StopReason.EosToken => "eos_token",
        StopReason.StopSequence => "stop_sequence",
        _ => reason.ToString().ToLowerInvariant(),
    };

    private static Task WriteRpcErrorAsync(HttpContext ctx, RpcException e)
    {
        var (status, type) = e.StatusCode switch
        {
            StatusCode.InvalidArgument or StatusCode.OutOfRange => (422, "validation"),
            StatusCode.ResourceExhausted => (429, "overloaded"),
            StatusCode.Unavailable => (503, "unhealthy"),
            _ => (424, "generation"),
        };
        return TgiEndpoints.WriteError(ctx, status, e.Status.Detail, type);
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values) channel.Dispose();
    }
}
