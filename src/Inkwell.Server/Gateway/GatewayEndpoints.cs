using System.Diagnostics;
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
/// name (which may contain '/') taken from the path, or /deployments/{deployment}/... to name the deployment.
/// OpenAI: /v1/chat/completions and /v1/completions, the model taken from the JSON body's "model"; /v1/models
/// lists the registry. Either API may name the deployment with the header or body field model_deployment (HELM's
/// rules pick it: ModelRegistry.Resolve). Every answer names the deployment that served it (x-inkwell-deployment),
/// and an implicit or deprecated choice is reported in x-inkwell-deployment-warning. /metrics: GatewayMetrics.
/// </summary>
public static class GatewayEndpoints
{
    public const string DeploymentHeader = "x-inkwell-deployment";
    public const string WarningHeader = "x-inkwell-deployment-warning";

    /// <summary>Names the deployment, as HELM's model_deployment; as a header or a top-level body field.</summary>
    public const string ModelDeploymentField = "model_deployment";

    /// <summary>The attribute naming the deployment on the gateway's server span.</summary>
    public const string DeploymentTag = "inkwell.deployment";

    /// <summary>Largest OpenAI request body read to find its "model" (the body is buffered to forward it).</summary>
    private const int MaxOpenAIBodyBytes = 16 * 1024 * 1024;

    private static readonly Dictionary<string, string> TgiActions = new(StringComparer.Ordinal)
    {
        ["generate"] = "POST", ["generate_stream"] = "POST", ["tokenize"] = "POST", ["info"] = "GET", ["health"] = "GET",
    };

    public static IEndpointRouteBuilder MapGateway(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/models/{**path}", ["GET", "POST"], (HttpContext ctx, GatewayState g, string? path) => TgiAsync(ctx, g, path, byDeployment: false));
        app.MapMethods("/deployments/{**path}", ["GET", "POST"], (HttpContext ctx, GatewayState g, string? path) => TgiAsync(ctx, g, path, byDeployment: true));
        app.MapPost("/v1/chat/completions", (HttpContext ctx, GatewayState g) => OpenAIAsync(ctx, g, "v1/chat/completions"));
        app.MapPost("/v1/completions", (HttpContext ctx, GatewayState g) => OpenAIAsync(ctx, g, "v1/completions"));
        app.MapGet("/v1/models", (GatewayState g) => Results.Json(ModelList(g.Registry), TgiJson.Options));
        app.MapGet("/health", () => Results.Ok());
        app.MapGet("/metrics", (GatewayState g) => Results.Text(g.Metrics.Render(), "text/plain; version=0.0.4"));
        return app;
    }

    private static async Task TgiAsync(HttpContext ctx, GatewayState g, string? path, bool byDeployment)
    {
        var root = byDeployment ? "deployments" : "models";
        var placeholder = byDeployment ? "{deployment}" : "{model}";
        var slash = path?.LastIndexOf('/') ?? -1;
        if (slash <= 0 || !TgiActions.TryGetValue(path![(slash + 1)..], out var method))
        {
            await TgiEndpoints.WriteError(ctx, 404,
                $"Unknown gateway route '/{root}/{path}'; use /{root}/{placeholder}/{string.Join("|", TgiActions.Keys)}.", "not_found");
            return;
        }
        var action = path[(slash + 1)..];
        if (!string.Equals(ctx.Request.Method, method, StringComparison.OrdinalIgnoreCase))
        {
            ctx.Response.Headers.Allow = method;
            await TgiEndpoints.WriteError(ctx, 405, $"/{root}/{placeholder}/{action} takes {method}.", "validation");
            return;
        }
        var name = Uri.UnescapeDataString(path[..slash]);
        var body = await ReadBodyAsync(ctx, int.MaxValue);
        var json = body is { Length: > 0 } ? ParseObject(body) : null;
        if (body is { Length: > 0 } && json is null && ctx.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
        {
            await TgiEndpoints.WriteError(ctx, 422, "Failed to parse the JSON body.", "validation");
            return;
        }
        if (TakeDeploymentField(ctx, json, out var deployment) is { } conflict)
        {
            await TgiEndpoints.WriteError(ctx, 422, conflict, "validation");
            return;
        }
        if (byDeployment)
        {
            if (deployment is not null && deployment != name)
            {
                await TgiEndpoints.WriteError(ctx, 422, $"The path names deployment '{name}' and {ModelDeploymentField} names '{deployment}'.", "validation");
                return;
            }
            deployment = name;
        }
        if (await ResolveAsync(ctx, g, byDeployment ? null : name, deployment) is not { } route) return;
        if (!route.IsLocal && route.Tgi is null && route.Deployment.ClientSpec.Kind != ClientKind.Tgis)
        {
            await TgiEndpoints.WriteError(ctx, 501,
                $"Deployment '{route.Deployment.Name}' speaks the OpenAI API only; use /v1/completions or /v1/chat/completions with \"model\": \"{route.Resolution.Model.Name}\".",
                "not_supported");
            return;
        }
        if (json?.Remove(ModelDeploymentField) == true) body = JsonSerializer.SerializeToUtf8Bytes(json);
        var affinity = NeedsAffinityKey(route) && json is not null ? AffinityKeys.FromTgi(json, route.Replicas!.Routing.PrefixChars) : null;
        await ForwardAsync(ctx, g, route, action, body, affinity, openAI: false);
    }

    private static async Task OpenAIAsync(HttpContext ctx, GatewayState g, string upstreamRoute)
    {
        var body = await ReadBodyAsync(ctx, MaxOpenAIBodyBytes);
        if (body is null)
        {
            await TgiEndpoints.WriteError(ctx, 413, $"Request body over {MaxOpenAIBodyBytes / 1048576} MiB.", "validation");
            return;
        }
        if (ParseObject(body) is not { } json)
        {
            await TgiEndpoints.WriteError(ctx, 422, "Failed to parse the JSON body: expected an object.", "validation");
            return;
        }
        if (TakeDeploymentField(ctx, json, out var deployment) is { } conflict)
        {
            await TgiEndpoints.WriteError(ctx, 422, conflict, "validation");
            return;
        }
        var model = json["model"] is JsonValue modelValue && modelValue.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text) ? text : null;
        if (model is null && deployment is null)
        {
            await TgiEndpoints.WriteError(ctx, 422,
                $"The gateway needs a \"model\" (or \"{ModelDeploymentField}\") in the body to pick a deployment. Known models: {string.Join(", ", g.Registry.Models.Select(m => m.Name))}.",
                "validation");
            return;
        }
        if (await ResolveAsync(ctx, g, model, deployment) is not { } route) return;
        if (route.Deployment.ClientSpec.Kind == ClientKind.Tgis)
        {
            await TgiEndpoints.WriteError(ctx, 501,
                $"Deployment '{route.Deployment.Name}' speaks TGIS gRPC, which has no OpenAI API; use /models/{route.Resolution.Model.Name}/generate or generate_stream.",
                "not_supported");
            return;
        }
        var rewrite = json.Remove(ModelDeploymentField);
        if (model is null || (route.IsLocal && model != route.Resolution.Model.Name))
        {
            // Named by deployment only, or a suffix alias the in-process server (which knows its model by the
            // registry's full name) would not match: the upstream gets the registry's name.
            json["model"] = route.Resolution.Model.Name;
            rewrite = true;
        }
        if (rewrite) body = JsonSerializer.SerializeToUtf8Bytes(json);
        var affinity = NeedsAffinityKey(route) ? AffinityKeys.FromOpenAI(json, route.Replicas!.Routing.PrefixChars) : null;
        await ForwardAsync(ctx, g, route, upstreamRoute, body, affinity, openAI: true);
    }

    private static JsonObject? ParseObject(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Takes model_deployment from the header and the body (removed later, before forwarding); an error
    /// message when they disagree or the body's is not a string.</summary>
    private static string? TakeDeploymentField(HttpContext ctx, JsonObject? json, out string? deployment)
    {
        var header = ctx.Request.Headers[ModelDeploymentField].ToString();
        deployment = string.IsNullOrWhiteSpace(header) ? null : header.Trim();
        if (json?[ModelDeploymentField] is not { } field) return null;
        if (field is not JsonValue value || !value.TryGetValue<string>(out var fromBody) || string.IsNullOrWhiteSpace(fromBody))
            return $"\"{ModelDeploymentField}\" must be a deployment name.";
        if (deployment is not null && deployment != fromBody)
            return $"The {ModelDeploymentField} header says '{deployment}' and the body says '{fromBody}'.";
        deployment = fromBody;
        return null;
    }

    private static bool NeedsAffinityKey(GatewayRoute route) => route.Replicas?.Routing.Policy == RoutingPolicy.PrefixAffinity;

    private static async Task<GatewayRoute?> ResolveAsync(HttpContext ctx, GatewayState g, string? model, string? deployment)
    {
        try
        {
            var route = g.Router.Route(model, deployment);
            ctx.Response.Headers[DeploymentHeader] = route.Deployment.Name;
            Activity.Current?.SetTag(DeploymentTag, route.Deployment.Name); // the gateway's server span, when traced
            if (route.Resolution.Warning is { } warning)
            {
                ctx.Response.Headers[WarningHeader] = warning;
                g.Logger.LogWarning("Model '{Model}', deployment '{Deployment}': {Warning}", model, deployment, warning);
            }
            return route;
        }
        catch (ModelResolutionException e)
        {
            var status = e.Failure is ResolutionFailure.Unknown or ResolutionFailure.Undeployed ? 404 : 422;
            await TgiEndpoints.WriteError(ctx, status, e.Message, status == 404 ? "not_found" : "validation");
        }
        return null;
    }

    private static async Task ForwardAsync(HttpContext ctx, GatewayState g, GatewayRoute route, string upstreamRoute, byte[]? body, string? affinityKey, bool openAI)
    {
        var deployment = route.Deployment;
        var method = new HttpMethod(ctx.Request.Method);
        var contentType = body is { Length: > 0 } ? ctx.Request.ContentType ?? "application/json" : null;
        long start = Stopwatch.GetTimestamp();
        using var scope = g.Metrics.Begin(deployment.Name);
        LocalDeploymentPool.Lease? lease = null;
        try
        {
            if (deployment.ClientSpec.Kind == ClientKind.Tgis)
            {
                await g.Tgis.ServeAsync(ctx, route, upstreamRoute, body);
                return;
            }
            HttpResponseMessage upstream;
            if (route.IsLocal)
            {
                lease = await g.Local.AcquireAsync(deployment, ctx.RequestAborted);
                upstream = await lease.Instance.Client.ForwardAsync(method, upstreamRoute, body, contentType, null, ctx.RequestAborted);
            }
            else
                upstream = await route.Replicas!.SendAsync(method, upstreamRoute, body, contentType, null, affinityKey, ctx.RequestAborted);

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
        catch (ReplicaUnavailableException e)
        {
            g.Logger.LogWarning("Deployment '{Deployment}' is unreachable: {Error}", deployment.Name, e.Message);
            await TgiEndpoints.WriteError(ctx, 503, $"Deployment '{deployment.Name}' of model '{route.Resolution.Model.Name}' is unreachable: {e.Message}", "unhealthy");
        }
        catch (InferenceClientException e)
        {
            g.Logger.LogError("Local deployment '{Deployment}' is unreachable: {Error}", deployment.Name, e.Message);
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
            scope.StatusCode = ctx.RequestAborted.IsCancellationRequested ? 0 : ctx.Response.StatusCode;
            if (lease is not null) await lease.DisposeAsync();
            // The request log line; status 0 (as in /metrics): the caller hung up first.
            g.Logger.LogInformation("{Method} {Path} -> deployment '{Deployment}': {Status} in {Milliseconds:F1} ms",
                ctx.Request.Method, ctx.Request.Path.Value, deployment.Name, scope.StatusCode, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
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
