using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Client;
using Inkwell.Client.Gateway;
using Inkwell.Client.Registry;
using Inkwell.Server.Tgi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Gateway;

/// <summary>
/// The gateway's routes. TGI: /models/{model}/generate | generate_stream | tokenize | info | health, the model
/// name (which may contain '/') taken from the path. OpenAI: /v1/chat/completions and /v1/completions, the model
/// taken from the JSON body's "model"; /v1/models lists the registry. Every answer names the deployment that
/// served it (x-inkwell-deployment), and an implicit choice is reported in x-inkwell-deployment-warning.
/// </summary>
public static class GatewayEndpoints
{
    public const string DeploymentHeader = "x-inkwell-deployment";
    public const string WarningHeader = "x-inkwell-deployment-warning";

    /// <summary>Largest OpenAI request body read to find its "model" (the body is buffered to forward it).</summary>
    private const int MaxOpenAIBodyBytes = 16 * 1024 * 1024;

    private static readonly Dictionary<string, string> TgiActions = new(StringComparer.Ordinal)
    {
        ["generate"] = "POST", ["generate_stream"] = "POST", ["tokenize"] = "POST", ["info"] = "GET", ["health"] = "GET",
    };

    public static IEndpointRouteBuilder MapGateway(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/models/{**path}", ["GET", "POST"], TgiAsync);
        app.MapPost("/v1/chat/completions", (HttpContext ctx, GatewayState g) => OpenAIAsync(ctx, g, "v1/chat/completions"));
        app.MapPost("/v1/completions", (HttpContext ctx, GatewayState g) => OpenAIAsync(ctx, g, "v1/completions"));
        app.MapGet("/v1/models", (GatewayState g) => Results.Json(ModelList(g.Registry), TgiJson.Options));
        app.MapGet("/health", () => Results.Ok());
        return app;
    }

    private static async Task TgiAsync(HttpContext ctx, GatewayState g, string? path)
    {
        var slash = path?.LastIndexOf('/') ?? -1;
        if (slash <= 0 || !TgiActions.TryGetValue(path![(slash + 1)..], out var method))
        {
            await TgiEndpoints.WriteError(ctx, 404,
                $"Unknown gateway route '/models/{path}'; use /models/{{model}}/{string.Join("|", TgiActions.Keys)}.", "not_found");
            return;
        }
        var action = path[(slash + 1)..];
        if (!string.Equals(ctx.Request.Method, method, StringComparison.OrdinalIgnoreCase))
        {
            ctx.Response.Headers.Allow = method;
            await TgiEndpoints.WriteError(ctx, 405, $"/models/{{model}}/{action} takes {method}.", "validation");
            return;
        }
        var model = Uri.UnescapeDataString(path[..slash]);
        if (await ResolveAsync(ctx, g, model) is not { } route) return;
        if (!route.IsLocal && route.Tgi is null)
        {
            await TgiEndpoints.WriteError(ctx, 501,
                $"Deployment '{route.Deployment.Name}' speaks the OpenAI API only; use /v1/completions or /v1/chat/completions with \"model\": \"{route.Resolution.Model.Name}\".",
                "not_supported");
            return;
        }
        var body = await ReadBodyAsync(ctx, int.MaxValue);
        await ForwardAsync(ctx, g, route, action, body, openAI: false);
    }

    private static async Task OpenAIAsync(HttpContext ctx, GatewayState g, string upstreamRoute)
    {
        var body = await ReadBodyAsync(ctx, MaxOpenAIBodyBytes);
        if (body is null)
        {
            await TgiEndpoints.WriteError(ctx, 413, $"Request body over {MaxOpenAIBodyBytes / 1048576} MiB.", "validation");
            return;
        }
        JsonObject? json;
        try
        {
            json = JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException e)
        {
            await TgiEndpoints.WriteError(ctx, 422, $"Failed to parse the JSON body: {e.Message}", "validation");
            return;
        }
        if (json?["model"] is not JsonValue modelValue || !modelValue.TryGetValue<string>(out var model) || string.IsNullOrWhiteSpace(model))
        {
            await TgiEndpoints.WriteError(ctx, 422,
                $"The gateway needs a \"model\" in the body to pick a deployment. Known models: {string.Join(", ", g.Registry.Models.Select(m => m.Name))}.",
                "validation");
            return;
        }
        if (await ResolveAsync(ctx, g, model) is not { } route) return;
        if (route.IsLocal && model != route.Resolution.Model.Name)
        {
            // The in-process server knows its model by the registry's full name; a suffix alias would not match it.
            json["model"] = route.Resolution.Model.Name;
            body = JsonSerializer.SerializeToUtf8Bytes(json);
        }
        await ForwardAsync(ctx, g, route, upstreamRoute, body, openAI: true);
    }

    private static async Task<GatewayRoute?> ResolveAsync(HttpContext ctx, GatewayState g, string model)
    {
        try
        {
            var route = g.Router.Route(model);
            ctx.Response.Headers[DeploymentHeader] = route.Deployment.Name;
            if (route.Resolution.Warning is { } warning)
            {
                ctx.Response.Headers[WarningHeader] = warning;
                g.Logger.LogWarning("Model '{Model}': {Warning}", model, warning);
            }
            return route;
        }
        catch (ModelResolutionException e)
        {
            await TgiEndpoints.WriteError(ctx, 404, e.Message, "not_found");
        }
        catch (NotSupportedException e)
        {
            await TgiEndpoints.WriteError(ctx, 501, e.Message, "not_supported");
        }
        return null;
    }

    private static async Task ForwardAsync(HttpContext ctx, GatewayState g, GatewayRoute route, string upstreamRoute, byte[]? body, bool openAI)
    {
        var deployment = route.Deployment;
        var method = new HttpMethod(ctx.Request.Method);
        var contentType = body is { Length: > 0 } ? ctx.Request.ContentType ?? "application/json" : null;
        LocalDeploymentPool.Lease? lease = null;
        try
        {
            HttpResponseMessage upstream;
            if (route.IsLocal)
            {
                lease = await g.Local.AcquireAsync(deployment, ctx.RequestAborted);
                upstream = await lease.Instance.Client.ForwardAsync(method, upstreamRoute, body, contentType, null, ctx.RequestAborted);
            }
            else if (openAI)
                upstream = await route.OpenAI!.ForwardAsync(method, upstreamRoute, body, contentType, null, ctx.RequestAborted);
            else
                upstream = await route.Tgi!.ForwardAsync(method, upstreamRoute, body, contentType, null, ctx.RequestAborted);

            using (upstream)
            {
                if (openAI && route.IsLocal && upstream.StatusCode == System.Net.HttpStatusCode.NotFound && upstream.Content.Headers.ContentLength == 0)
                {
                    // An unmapped route answers an empty 404; a handler's own 404 has a body.
                    await TgiEndpoints.WriteError(ctx, 501,
                        $"Deployment '{deployment.Name}' is local and the in-process server does not serve /{upstreamRoute}.", "not_supported");
                    return;
                }
                await ResponseRelay.CopyAsync(upstream, ctx, deployment.Name);
            }
        }
        catch (InferenceClientException e)
        {
            g.Logger.LogWarning("Deployment '{Deployment}' is unreachable: {Error}", deployment.Name, e.Message);
            await TgiEndpoints.WriteError(ctx, 503, $"Deployment '{deployment.Name}' of model '{route.Resolution.Model.Name}' is unreachable: {e.ErrorText}", "unhealthy");
        }
        catch (Exception e) when (route.IsLocal && lease is null && e is not OperationCanceledException)
        {
            g.Logger.LogError(e, "Local deployment '{Deployment}' failed to load", deployment.Name);
            await TgiEndpoints.WriteError(ctx, 503, $"Local deployment '{deployment.Name}' could not be loaded: {e.Message}", "unhealthy");
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // the caller hung up; nothing to answer
        }
        finally
        {
            if (lease is not null) await lease.DisposeAsync();
        }
    }

    /// <summary>The request body, or null when it is longer than <paramref name="limit"/>.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext ctx, int limit)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await ctx.Request.Body.ReadAsync(chunk, ctx.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>OpenAI's model list, one entry per registry model (deployments are how, not what).</summary>
    internal static OpenAIModelListDto ModelList(ModelRegistry registry) => new("list",
        registry.Models.Select(m => new OpenAIModelDto(
            m.Name,
            "model",
            m.ReleaseDate is { } d ? new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeSeconds() : 0,
            m.CreatorOrganization ?? m.Name.Split('/')[0])).ToList());
}

public sealed record OpenAIModelListDto(string Object, IReadOnlyList<OpenAIModelDto> Data);

public sealed record OpenAIModelDto(string Id, string Object, long Created, string OwnedBy);
