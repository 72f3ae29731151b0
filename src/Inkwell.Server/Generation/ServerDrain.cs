namespace Inkwell.Server.Generation;

/// <summary>
/// The server's shutdown as every API sees it: once draining, readiness is 503 and the generation service refuses
/// new work (each API's "unavailable"); when the grace period ends, runs still going are stopped and end with an
/// error event or status rather than a cut connection.
/// </summary>
public sealed class ServerDrain
{
    private readonly CancellationTokenSource _draining = new();
    private readonly CancellationTokenSource _graceExpired = new();

    public bool IsDraining => _draining.IsCancellationRequested;
    public CancellationToken GraceExpired => _graceExpired.Token;

    public void Begin() => _draining.Cancel();

    public void ExpireGrace()
    {
        _draining.Cancel();
        _graceExpired.Cancel();
    }
}
