using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;
using Inkwell.Templates;
using Inkwell.Server.Generation;
using Inkwell.Server.Hosting;
using Inkwell.Server.Http;
using Inkwell.Server.Metrics;
using Inkwell.Server.Telemetry;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.OpenAI;

/// <summary>OpenAI's REST routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models[/{id}].</summary>
public static class OpenAIEndpoints
{
    public static IEndpointRouteBuilder MapOpenAI(this IEndpointRouteBuilder app)
    {
        var s = app.ServiceProvider.GetRequiredService<ServerState>();
        var api = new OpenAIApi(s);
        app.MapPost("/v1/chat/completions", api.ChatAsync);
        app.MapPost("/v1/completions", api.CompletionAsync);
        app.MapGet("/v1/models", () => Results.Json(new ModelListDto("list", api.Models), OpenAIJson.Options));
        app.MapGet("/v1/models/{**id}", (string id) => api.Models.FirstOrDefault(m => m.Id == id) is { } model
            ? Results.Json(model, OpenAIJson.Options)
            : Results.Json(OpenAIApi.ModelNotFound(id, null).ToDto(), OpenAIJson.Options, statusCode: 404));
        return app;
    }
}

/// <summary>The handlers: validate, compile any grammar (awaited, off the engine thread), run the choices, write JSON or SSE.</summary>
internal sealed class OpenAIApi
{
    private readonly ServerState _s;
    private readonly OpenAIValidator _validator;
    private readonly ChatTemplate? _template;
    private readonly string? _templateProblem;
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public OpenAIApi(ServerState s)
    {
        _s = s;
        _validator = new OpenAIValidator(s.Tokenizer);
        (_template, _templateProblem) = LoadTemplate(s);
        // As vLLM lists them: the base model, then each LoRA adapter with the base as its parent.
        Models = [new ModelDto(s.ModelId, "model", _created, "inkwell"),
            .. s.Service.AdapterNames.Select(name => new ModelDto(name, "model", _created, "inkwell", Parent: s.ModelId))];
    }

    public IReadOnlyList<ModelDto> Models { get; }

    /// <summary>OpenAI's (and vLLM's) 404 for a model the server does not serve; <paramref name="adapters"/> lists what it does (null: not said).</summary>
    public static OpenAIException ModelNotFound(string id, string? adapters) =>
        new(404, $"The model `{id}` does not exist or you do not have access to it." + (adapters is null ? "" : " " + adapters),
            param: "model", code: "model_not_found");

    /// <summary>
    /// vLLM's rule for `model`: a LoRA adapter's name selects it, the served name is the base model. Any other name is the
    /// base model too while no adapters are loaded (a single-model server answers to any name, as TGI does), but a 404
    /// once adapters are: a mistyped adapter name must not silently run the base model.
    /// </summary>
    private string? AdapterFor(string? model)
    {
        var adapters = _s.Service.AdapterNames;
        if (string.IsNullOrEmpty(model) || model == _s.ModelId || adapters.Count == 0) return null;
        if (adapters.Contains(model)) return model;
        throw ModelNotFound(model, $"Served: {_s.ModelId} (base), LoRA adapters: {string.Join(", ", adapters)}.");
    }

    /// <summary>--chat-template FILE wins over the model's own; a file that does not parse fails startup, not a request.</summary>
    private static (ChatTemplate?, string?) LoadTemplate(ServerState s)
    {
        if (s.Options.ChatTemplatePath is { } path)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"--chat-template {path}: file not found", path);
            try { return (ChatTemplate.Parse(File.ReadAllText(path)), null); }
            catch (TemplateException e) { throw new InvalidDataException($"--chat-template {path}: {e.Message}", e); }
        }
        if (s.Model.ChatTemplate is { } source)
        {
            try { return (ChatTemplate.Parse(source), null); }
            catch (TemplateException e) { return (null, $"this model's chat template does not parse ({e.Message}); start the server with --chat-template FILE"); }
        }
        return (null, $"the model `{s.ModelId}` has no chat template, so /v1/chat/completions cannot format messages; " +
            "start the server with --chat-template FILE, or use /v1/completions with a prompt");
    }

    // The model is resolved first, as vLLM does: an unknown model is a 404 whatever else the body holds.
    public Task ChatAsync(HttpContext ctx) => HandleAsync<ChatCompletionRequestDto>(ctx, chat: true,
        dto =>
        {
            string? adapter = AdapterFor(dto.Model);
            return _validator.Chat(dto, _template, _templateProblem) with { AdapterId = adapter };
        });

    public Task CompletionAsync(HttpContext ctx) => HandleAsync<CompletionRequestDto>(ctx, chat: false,
        dto =>
        {
            string? adapter = AdapterFor(dto.Model);
            return _validator.Completion(dto) with { AdapterId = adapter };
        });

    private async Task HandleAsync<T>(HttpContext ctx, bool chat, Func<T, OpenAIPlan> validate) where T : class
    {
        var ct = ctx.RequestAborted;
        long arrival = Stopwatch.GetTimestamp();
        OpenAIPlan plan;
        try
        {
            T dto;
            try
            {
                dto = await JsonBody.ReadAsync<T>(ctx.Request, OpenAIJson.Options, ct);
            }
            catch (RequestBodyException e) when (e.TransportStatus is { } status)
            {
                throw new OpenAIException(status, e.Message, code: ApiErrors.OpenAICode(status));
            }
            catch (RequestBodyException e)
            {
                throw new OpenAIException(400, $"We could not parse the JSON body of your request. ({e.Message})", param: null, code: null);
            }
            plan = validate(dto);
        }
        catch (OpenAIException e)
        {
            _s.Metrics.RequestFailure.Increment("validation");
            await WriteError(ctx, e);
            return;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _s.Metrics.RequestFailure.Increment("cancelled");
            return;
        }

        var kind = plan.Stream ? RequestKind.Stream : plan.Prompts.Count > 1 ? RequestKind.Batch : RequestKind.Single;
        using var telemetry = RequestTelemetry.Begin(_s.Metrics, "openai", kind, plan.Prompts.Count, arrival);
        GenerationRun run;
        try
        {
            run = await _s.Service.StartAsync(OpenAIValidator.Inputs(plan), ct, telemetry);
        }
        catch (GenerationException e)
        {
            telemetry.Failed(e);
            await WriteError(ctx, ToOpenAI(e, chat));
            return;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            telemetry.Failed("cancelled");
            return;
        }

        await using (run)
        {
            try
            {
                await new ResponseWriter(ctx, _s, plan, run, chat, chat ? "chatcmpl-" : "cmpl-").RunAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The run counts its unfinished sequences as cancelled when disposed.
            }
        }
    }

    /// <summary>The one mapping of the service's error kinds to OpenAI's statuses, types and codes.</summary>
    private static OpenAIException ToOpenAI(GenerationException e, bool chat) => e.Kind switch
    {
        GenerationErrorKind.InvalidRequest => OpenAIException.Invalid(e.Param ?? (chat ? "messages" : "prompt"), e.Message, code: null),
        GenerationErrorKind.ContextLength => new OpenAIException(400, e.Message, param: chat ? "messages" : "prompt", code: "context_length_exceeded"),
        GenerationErrorKind.Overloaded => new OpenAIException(429, e.Message, "rate_limit_error", code: "rate_limit_exceeded"),
        GenerationErrorKind.Unavailable => new OpenAIException(503, e.Message, "server_error", code: null),
        _ => new OpenAIException(500, e.Message, "server_error", code: null),
    };

    internal static Task WriteError(HttpContext ctx, OpenAIException e)
    {
        ctx.Response.StatusCode = e.Status;
        return ctx.Response.WriteAsJsonAsync(e.ToDto(), OpenAIJson.Options);
    }
}
