using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Http;

/// <summary>
/// TGI's --cors-allow-origin: the origins a web page may call the HTTP APIs from ("*" for any). Preflights are
/// answered before the API key check (browsers send them without credentials); with no origin configured nothing
/// here runs and no CORS header is ever sent, so a cross-site page cannot read any answer.
/// </summary>
public static class CorsPolicy
{
    public static void AddInkwellCors(this IServiceCollection services, IReadOnlyList<string> origins)
    {
        foreach (var origin in origins)
        {
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/"))
                throw new ArgumentException($"--cors-allow-origin {origin}: expected an origin such as https://example.com (scheme, host, optional port) or *");
        }
        services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            if (origins.Contains("*")) policy.AllowAnyOrigin();
            else policy.WithOrigins([.. origins.Select(o => o.TrimEnd('/'))]);
            // The headers a client sends (Content-Type, Authorization), and TGI's timing headers for the page to read.
            policy.WithMethods("GET", "POST").AllowAnyHeader()
                .WithExposedHeaders("x-compute-type", "x-compute-time", "x-total-time", "x-validation-time", "x-queue-time",
                    "x-inference-time", "x-time-per-token", "x-prompt-tokens", "x-generated-tokens");
        }));
    }
}
