namespace Inkwell.Client.Gateway;

/// <summary>How a deployment's replicas are called, probed, ejected and re-admitted.</summary>
public sealed record ReplicaSetOptions
{
    /// <summary>Replicas one request may try, each at most once, while nothing has come back yet.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Consecutive failures (requests before their first byte, or probes) that eject a replica.</summary>
    public int FailuresToEject { get; init; } = 3;

    /// <summary>How often every replica, ejected ones included, is probed (GET /health); one success re-admits.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long opening a connection to a replica may take; a dead pod should cost little before the retry.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Longest wait for a replica's response headers (a non-streamed generation answers only when done).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Probes replicas called over gRPC (grpc:// urls, TGIS); this library speaks HTTP only, so the host
    /// supplies it. Without one, such replicas are judged by their requests alone.</summary>
    public Func<Uri, CancellationToken, Task<bool>>? GrpcProbe { get; init; }

    /// <summary>Called when an attempt ends: the replica, the seconds to its response headers (null when none
    /// came), the seconds until the body was done, and whether it failed. For metrics.</summary>
    public Action<string, Replica, ReplicaAttempt>? OnAttempt { get; init; }

    /// <summary>Called when a replica is ejected (false) or re-admitted (true), with the reason. For logs.</summary>
    public Action<string, Replica, bool, string>? OnHealthChanged { get; init; }

    internal void Validate()
    {
        if (MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "MaxAttempts must be at least 1.");
        if (FailuresToEject < 1) throw new ArgumentOutOfRangeException(nameof(FailuresToEject), FailuresToEject, "FailuresToEject must be at least 1.");
        foreach (var (value, name) in new[] { (ProbeInterval, nameof(ProbeInterval)), (ProbeTimeout, nameof(ProbeTimeout)), (ConnectTimeout, nameof(ConnectTimeout)), (ResponseTimeout, nameof(ResponseTimeout)) })
            if (value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }
}

/// <summary>One try of one request on one replica.</summary>
/// <param name="HeadersSeconds">Time to the response headers; null when the attempt failed before them.</param>
/// <param name="TotalSeconds">Time until the response body was read to its end (or the attempt failed).</param>
/// <param name="StatusCode">The replica's status, when it answered.</param>
/// <param name="Failed">True when the attempt counted against the replica's health.</param>
public readonly record struct ReplicaAttempt(double? HeadersSeconds, double TotalSeconds, int? StatusCode, bool Failed);

/// <summary>No replica of a deployment answered before the attempts ran out (or it has none).</summary>
public sealed class ReplicaUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
