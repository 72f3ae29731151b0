namespace Inkwell.Client;

/// <summary>How a client reaches one endpoint and how hard it tries.</summary>
public sealed record InferenceClientOptions
{
    /// <summary>The server root, e.g. http://localhost:8080/. Routes are resolved against it.</summary>
    public required Uri BaseAddress { get; init; }

    /// <summary>Sent as "Authorization: Bearer ..." when set.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Per-attempt limit when a request names none (RequestOptions.Timeout). For streams it bounds
    /// the wait for the response headers and then the wait between two events.</summary>
    public TimeSpan DefaultRequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Total attempts for a transient failure (connection refused, timeout, 429, 5xx); 1 disables retries.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>First backoff delay; later ones grow exponentially, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Cap on one backoff delay, including a server's Retry-After.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long resolving a host name may take before the request fails (not retried).</summary>
    public TimeSpan DnsTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long opening a TCP connection may take (after resolution).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connections are recycled after this long, so DNS changes and restarted endpoints are picked up.</summary>
    public TimeSpan PooledConnectionLifetime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Idle connections are closed after this long, so a stopped endpoint leaves no stale sockets behind.</summary>
    public TimeSpan PooledConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>When true, generation calls return an empty result whose Error says what failed instead of
    /// throwing. Caller cancellation still throws.</summary>
    public bool ReturnEmptyOnFailure { get; init; }

    /// <summary>Replaces Dns.GetHostAddressesAsync (tests simulate a resolver that never answers).</summary>
    internal Func<string, CancellationToken, Task<System.Net.IPAddress[]>>? HostResolver { get; init; }

    internal void Validate()
    {
        if (!BaseAddress.IsAbsoluteUri)
            throw new ArgumentException($"BaseAddress must be absolute, got '{BaseAddress}'.", nameof(BaseAddress));
        if (MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "MaxAttempts must be at least 1.");
        RequirePositive(DefaultRequestTimeout, nameof(DefaultRequestTimeout));
        RequirePositive(DnsTimeout, nameof(DnsTimeout));
        RequirePositive(ConnectTimeout, nameof(ConnectTimeout));
        if (RetryBaseDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RetryBaseDelay), RetryBaseDelay, "RetryBaseDelay must not be negative.");
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
    }
}

/// <summary>Per-call settings that override the client's defaults.</summary>
public sealed record RequestOptions
{
    /// <summary>Per-attempt timeout for this call; InferenceClientOptions.DefaultRequestTimeout when null.</summary>
    public TimeSpan? Timeout { get; init; }
}
