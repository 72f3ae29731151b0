using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Inkwell.Server.Playground;

/// <summary>
/// The browser pages: the playground at GET /, the API page at /docs, the OpenAPI document at /openapi.json (and at
/// TGI's /api-doc/openapi.json), their scripts and styles under /playground/. All are resources of this assembly
/// (Playground/wwwroot), so the server needs no files beside it and the pages fetch nothing from elsewhere.
/// </summary>
public static class PlaygroundEndpoints
{
    private const string ResourcePrefix = "playground/";

    // The pages talk to this server only; the policy makes that a rule the browser enforces.
    private const string ContentSecurityPolicy =
        "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private sealed record Asset(byte[] Content, string ContentType, string ETag);

    private const string AssetFolder = "/playground";

    private static readonly FrozenDictionary<string, Asset> Assets = LoadAssets();

    /// <summary>The pages and the file each serves; the scripts and styles they load are under <see cref="AssetFolder"/>.</summary>
    private static readonly FrozenDictionary<string, string> Pages = new Dictionary<string, string>
    {
        ["/"] = "index.html",
        ["/docs"] = "docs.html",
        ["/openapi.json"] = "openapi.json",
        ["/api-doc/openapi.json"] = "openapi.json", // TGI's path for the document
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IEndpointRouteBuilder MapPlayground(this IEndpointRouteBuilder app)
    {
        foreach (var (path, file) in Pages) app.MapGet(path, (HttpContext ctx) => Serve(ctx, file));
        app.MapGet(AssetFolder + "/{file}", (HttpContext ctx, string file) => Serve(ctx, file));
        return app;
    }

    /// <summary>
    /// Whether a request reads one of these pages or their files: static and free of secrets, so they stay open when
    /// an API key guards the API (a browser cannot send the key with a page load; the page sends it with each call).
    /// </summary>
    public static bool IsPage(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method))
        && (Pages.ContainsKey(request.Path.Value ?? "") || request.Path.StartsWithSegments(AssetFolder));

    private static IResult Serve(HttpContext ctx, string name)
    {
        if (!Assets.TryGetValue(name, out var asset))
            return Results.Json(new Tgi.ErrorResponseDto($"no playground file `{name}`", "not_found"), Tgi.TgiJson.Options, statusCode: 404);
        var headers = ctx.Response.Headers;
        headers.ETag = asset.ETag;
        // Revalidated each time (a 304 when unchanged), so a restarted server with new pages is never shadowed by a cache.
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        if (asset.ContentType.StartsWith("text/html", StringComparison.Ordinal)) headers.ContentSecurityPolicy = ContentSecurityPolicy;
        if (ctx.Request.Headers.IfNoneMatch.Contains(asset.ETag)) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static FrozenDictionary<string, Asset> LoadAssets()
    {
        var assembly = typeof(PlaygroundEndpoints).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] content = copy.ToArray();
            string etag = new EntityTagHeaderValue("\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..16] + "\"").ToString();
            string name = resource[ResourcePrefix.Length..];
            assets[name] = new Asset(content, ContentType(name), etag);
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".json" => "application/json; charset=utf-8",
        ".svg" => "image/svg+xml",
        var other => throw new InvalidOperationException($"playground resource {name}: no content type for `{other}`"),
    };
}
