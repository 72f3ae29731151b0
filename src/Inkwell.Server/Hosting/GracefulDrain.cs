using Inkwell.Server.Generation;
using Microsoft.Extensions.Hosting;

namespace Inkwell.Server.Hosting;

/// <summary>
/// Shutdown in two stages, before Kestrel stops listening (IHostedLifecycleService.StoppingAsync runs ahead of every
/// StopAsync): the drain begins at once (readiness 503, new work refused with each API's "unavailable"), the running
/// work (<paramref name="inFlight"/>: generations in `inkwell serve`, relayed requests in the gateway) gets up to the
/// grace period to finish, and any still running then is stopped so its response ends with an error event or status.
/// Kestrel then stops with nothing left to cut.
/// </summary>
internal sealed class GracefulDrain(ServerDrain drain, Func<int> inFlight, TimeSpan gracePeriod) : IHostedLifecycleService
{
    /// <summary>How long stopped runs get to write their final error event before the host goes on.</summary>
    private static readonly TimeSpan FinalEventAllowance = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>The host's own timeout must cover the grace period and the final events.</summary>
    public static TimeSpan HostShutdownTimeout(TimeSpan gracePeriod) => gracePeriod + FinalEventAllowance + TimeSpan.FromSeconds(5);

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        if (!await IdleWithinAsync(gracePeriod, cancellationToken)) drain.ExpireGrace();
        await IdleWithinAsync(FinalEventAllowance, cancellationToken);
    }

    /// <summary>Waits until nothing is in flight, for at most <paramref name="limit"/>; true when idle.</summary>
    private async Task<bool> IdleWithinAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + limit;
        while (inFlight() > 0)
        {
            if (DateTime.UtcNow >= deadline || cancellationToken.IsCancellationRequested) return false;
            try
            {
                await Task.Delay(PollInterval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
        return true;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
