namespace Inkwell.Client.Gateway;

/// <summary>One endpoint of a deployment, with what routing and health need: requests in flight from this
/// gateway, consecutive failures, and whether it is ejected. Counters are for metrics. Thread-safe.</summary>
public sealed class Replica
{
    private int _outstanding;
    private int _consecutiveFailures;
    private long _requests;
    private long _failures;
    private volatile bool _ejected;

    internal Replica(Uri baseAddress)
    {
        BaseAddress = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
    }

    /// <summary>The replica's root; routes are resolved against it.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Requests this gateway has sent to it that have not finished (streams until their last byte).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>False once ejected after failures; true again when a probe succeeds.</summary>
    public bool IsHealthy => !_ejected;

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Attempts that failed before a first byte (connection refused or reset, 502/503/504, timeout).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    internal void Begin()
    {
        Interlocked.Increment(ref _outstanding);
        Interlocked.Increment(ref _requests);
    }

    internal void End() => Interlocked.Decrement(ref _outstanding);

    /// <summary>Counts a failure; true when it is the one that ejects the replica.</summary>
    internal bool Fail(int failuresToEject, bool countAsRequestFailure)
    {
        if (countAsRequestFailure) Interlocked.Increment(ref _failures);
        if (Interlocked.Increment(ref _consecutiveFailures) < failuresToEject || _ejected) return false;
        _ejected = true;
        return true;
    }

    /// <summary>Clears the failure run; true when this re-admits an ejected replica.</summary>
    internal bool Succeed()
    {
        Volatile.Write(ref _consecutiveFailures, 0);
        if (!_ejected) return false;
        _ejected = false;
        return true;
    }

    public override string ToString() => BaseAddress.AbsoluteUri;
}
