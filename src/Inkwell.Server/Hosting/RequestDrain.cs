using Inkwell.Server.Generation;
using Inkwell.Server.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Inkwell.Server.Hosting;

/// <summary>
/// The drain of a server whose work is whole HTTP requests rather than generations (the gateway relays them): once
/// draining, every new request but the liveness probe gets 503 in its API's shape (so readiness, /health, fails at
/// once); requests already running may finish within the grace period; those still running then are cancelled and
/// end with a final error event (an event stream) or a 503 (nothing sent yet), as <see cref="GracefulDrain"/> ends
/// generations in `inkwell serve`.
/// </summary>
public sealed class RequestDrain
{
    private int _inFlight;

    public ServerDrain Drain { get; } = new();

    /// <summary>Requests now running (probes of liveness excluded).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Registers the drain and its shutdown sequence (<see cref="GracefulDrain"/>) with the host.</summary>
    public static RequestDrain AddTo(WebApplicationBuilder builder, TimeSpan gracePeriod)
    {
        if (gracePeriod < TimeSpan.Zero) throw new ArgumentException($"--shutdown-grace-period ({gracePeriod.TotalSeconds} s) must be >= 0");
        var drain = new RequestDrain();
        builder.Services.AddSingleton(drain);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = GracefulDrain.HostShutdownTimeout(gracePeriod));
        builder.Services.AddHostedService(_ => new GracefulDrain(drain.Drain, () => drain.InFlight, gracePeriod));
        return drain;
    }

    /// <summary>Puts the drain in front of every route and maps the liveness probe (always alive while it answers).</summary>
    public void UseIn(WebApplication app)
    {
        app.Use(next => ctx => InvokeAsync(ctx, next));
        app.MapLiveness(() => true);
    }

    private async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        if (ctx.Request.Path.Equals(ProbeRoutes.Liveness, StringComparison.Ordinal))
        {
            await next(ctx);
            return;
        }
        Interlocked.Increment(ref _inFlight);
        try
        {
            // Counted before the check: a request that sees no drain is always waited for.
            if (Drain.IsDraining)
            {
                await ApiErrors.WriteAsync(ctx, ApiSurfaces.Of(ctx), 503, GenerationService.ShuttingDownMessage);
                return;
            }
            await RunUntilGraceExpiresAsync(ctx, next);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>Runs the request with its RequestAborted also firing when the grace period ends, then ends a request
    /// cut that way in its API's shape instead of leaving the caller a truncated answer.</summary>
    private async Task RunUntilGraceExpiresAsync(HttpContext ctx, RequestDelegate next)
    {
        var callerAborted = ctx.RequestAborted;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(callerAborted, Drain.GraceExpired);
        ctx.RequestAborted = either.Token;
        try
        {
            await next(ctx);
        }
        catch (OperationCanceledException) when (Drain.GraceExpired.IsCancellationRequested && !callerAborted.IsCancellationRequested)
        {
            // ended below
        }
        finally
        {
            ctx.RequestAborted = callerAborted;
        }
        if (Drain.GraceExpired.IsCancellationRequested && !callerAborted.IsCancellationRequested) await EndCutShortAsync(ctx);
    }

    private static async Task EndCutShortAsync(HttpContext ctx)
    {
        var surface = ApiSurfaces.Of(ctx);
        if (!ctx.Response.HasStarted)
        {
            await ApiErrors.WriteAsync(ctx, surface, 503, GenerationService.ShuttingDownMessage);
            return;
        }
        if (ctx.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) != true)
        {
            ctx.Abort(); // a partial JSON body must not pass for a whole one
            return;
        }
        var (body, options) = ApiErrors.Body(surface, 503, GenerationService.ShuttingDownMessage);
        var json = System.Text.Json.JsonSerializer.Serialize(body, body.GetType(), options);
        await ctx.Response.WriteAsync($"data: {json}\n\n");
        await ctx.Response.Body.FlushAsync();
    }
}
