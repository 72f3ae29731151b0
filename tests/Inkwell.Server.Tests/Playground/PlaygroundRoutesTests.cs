using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Inkwell.Server.Tests.OpenAI;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Playground;

/// <summary>The pages over plain HTTP: served from the assembly, self-contained, and an OpenAPI document that matches the route table.</summary>
public sealed partial class PlaygroundRoutesTests(SharedServer plain, TemplatedServer templated) : IClassFixture<SharedServer>, IClassFixture<TemplatedServer>
{
    // Routes that are pages or copies of the document, not API operations.
    private static readonly HashSet<string> NotOperations = ["GET /docs", "GET /api-doc/openapi.json", "GET /playground/{file}"];

    private TestServer Server => plain.Server;

    [Fact]
    public async Task PagesAndTheirAssetsAreServedSelfContained()
    {
        var client = Server.Client;
        foreach (string page in new[] { "/", "/docs" })
        {
            using var response = await client.GetAsync(page);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
            Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
            string html = await response.Content.ReadAsStringAsync();
            // Nothing from another origin: every script and stylesheet is a path on this server, and each is there.
            var assets = AssetReference().Matches(html).Select(m => m.Groups[1].Value).ToList();
            Assert.NotEmpty(assets);
            Assert.DoesNotContain("//", string.Concat(assets));
            foreach (string asset in assets)
            {
                using var a = await client.GetAsync(asset);
                Assert.Equal(HttpStatusCode.OK, a.StatusCode);
                Assert.Equal(Path.GetExtension(asset) switch { ".js" => "text/javascript", ".css" => "text/css", _ => "image/svg+xml" },
                    a.Content.Headers.ContentType!.MediaType);
                // (SVG names its XML namespace with a URL; nothing is fetched from it.)
                Assert.DoesNotContain("http://", (await a.Content.ReadAsStringAsync()).Replace("http://www.w3.org/2000/svg", ""));
            }
        }
    }

    [Fact]
    public async Task UnchangedFilesAre304sAndUnknownOnesA404()
    {
        var server = Server;
        using var first = await server.Client.GetAsync("/playground/playground.js");
        var etag = first.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/playground/playground.js");
        again.Headers.IfNoneMatch.Add(etag);
        using var revalidated = await server.Client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, revalidated.StatusCode);

        using var missing = await server.Client.GetAsync("/playground/nothing.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", (await missing.Content.ReadFromJsonAsync<JsonNode>())!["error_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task PostSlashIsStillTgisGenerate()
    {
        var server = Server;
        using var response = await server.Client.PostAsJsonAsync("/", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 5 } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = (await response.Content.ReadFromJsonAsync<JsonArray>())!.Single()!;
        Assert.StartsWith(answer["generated_text"]!.GetValue<string>(), server.GoldenGreedy["Once upon a time".Length..]);
    }

    [Fact]
    public async Task TheOpenApiDocumentDescribesExactlyTheMappedRoutes()
    {
        var server = Server;
        var document = JsonNode.Parse(await server.Client.GetStringAsync("/openapi.json"))!;
        Assert.Equal(await server.Client.GetStringAsync("/openapi.json"), await server.Client.GetStringAsync("/api-doc/openapi.json"));
        Assert.StartsWith("3.", document["openapi"]!.GetValue<string>());
        var documented = document["paths"]!.AsObject()
            .SelectMany(path => path.Value!.AsObject().Select(op => $"{op.Key.ToUpperInvariant()} {path.Key}"))
            .ToHashSet();

        // The app's own route table, as ASP.NET Core resolves requests with it.
        var mapped = server.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}"))
            .Select(route => route.Replace("{**id}", "{id}", StringComparison.Ordinal))
            .Where(route => !NotOperations.Contains(route))
            .ToHashSet();
        Assert.Equal(mapped.Order(), documented.Order());

        // Every $ref resolves.
        foreach (Match reference in Regex.Matches(document.ToJsonString(), "\"\\$ref\":\"#/components/schemas/([^\"]+)\""))
            Assert.NotNull(document["components"]!["schemas"]![reference.Groups[1].Value]);
    }

    [Fact]
    public void EveryPageRouteIsOpenToAPageLoadAndNoApiRouteIs()
    {
        var routes = Server.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Method: m, Path: "/" + e.RoutePattern.RawText!.TrimStart('/'))))
            .ToList();
        foreach (var (method, path) in routes)
        {
            var request = new DefaultHttpContext().Request;
            request.Method = method;
            request.Path = path.Replace("{file}", "playground.js", StringComparison.Ordinal);
            bool page = method == "GET" && (path is "/" or "/docs" or "/openapi.json" or "/api-doc/openapi.json" || path.StartsWith("/playground/", StringComparison.Ordinal));
            Assert.True(page == Inkwell.Server.Playground.PlaygroundEndpoints.IsPage(request), $"{method} {path}");
        }
        Assert.Contains(routes, r => r is { Method: "POST", Path: "/" }); // TGI's generate, which is not a page
    }

    [SharedFact]
    public async Task EveryRequestExampleInTheDocumentSucceeds()
    {
        var client = templated.Server!.Client;
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi.json"))!;
        int tried = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (operation!["requestBody"]?["content"]?["application/json"]?["example"] is not { } example) continue;
                using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), path)
                {
                    Content = new StringContent(example.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
                };
                using var response = await client.SendAsync(request);
                Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                tried++;
            }
        }
        Assert.Equal(6, tried); // /generate, /generate_stream, POST /, /tokenize, /v1/chat/completions, /v1/completions
    }

    [GeneratedRegex("(?:src|href)=\"(/playground/[^\"]+)\"")]
    private static partial Regex AssetReference();
}
