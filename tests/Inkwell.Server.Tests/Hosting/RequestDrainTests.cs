using System.Net;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Reliability;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Hosting;

/// <summary>
/// The gateway's drain of whole requests, on a bare app: new requests get 503 in their API's shape while liveness
/// still answers, and an endless event stream still running when the grace period ends gets a final error event in
/// its API's shape instead of a cut connection. (Streams finishing within the grace period: Inkwell.Deploy.Tests.)
/// </summary>
public class RequestDrainTests
{
    private static Task<LoopbackHost> StartAsync(TimeSpan gracePeriod) => LoopbackHost.StartAsync(port =>
    {
        var builder = LoopbackHost.CreateBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var drain = RequestDrain.AddTo(builder, gracePeriod);
        var app = builder.Build();
        drain.UseIn(app);
        app.MapGet("/stream", EndlessEventsAsync);
        app.MapGet("/v1/stream", EndlessEventsAsync);
        return app;
    });

    /// <summary>A relayed stream that never ends by itself: one event every 20 ms until the request is aborted.</summary>
    private static async Task EndlessEventsAsync(HttpContext ctx)
    {
        ctx.Response.ContentType = "text/event-stream";
        while (true)
        {
            await ctx.Response.WriteAsync("data: {\"token\": {\"id\": 1}}\n\n", ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            await Task.Delay(20, ctx.RequestAborted);
        }
    }

    [Fact]
    public async Task WhileDraining_NewRequestsGet503InTheirApisShape_AndLivenessStill200()
    {
        await using var host = await StartAsync(TimeSpan.FromSeconds(30));
        using var client = host.CreateClient();
        host.App.Services.GetRequiredService<RequestDrain>().Drain.Begin();

        foreach (var path in new[] { "/health", "/stream", "/v1/stream", "/anything" })
        {
            using var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Null(ApiShape.ErrorProblem(ApiShape.Of(path), await response.Content.ReadAsStringAsync()));
        }
        using var live = await client.GetAsync(ProbeRoutes.Liveness);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Theory]
    [InlineData("/stream")]
    [InlineData("/v1/stream")]
    public async Task AStreamStillRunningWhenTheGracePeriodEnds_EndsWithAnErrorEventInItsApisShape(string path)
    {
        await using var host = await StartAsync(TimeSpan.Zero);
        using var client = host.CreateClient();
        using var response = await client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data:", await reader.ReadLineAsync());

        var stopping = host.StopAsync();
        string? last = null;
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data:", StringComparison.Ordinal)) last = line["data:".Length..];
        await stopping;

        Assert.NotNull(last);
        Assert.Null(ApiShape.ErrorProblem(ApiShape.Of(path), last));
        Assert.Contains("shutting down", last);
    }
}
