using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Inkwell.Client.Registry;

namespace Inkwell.Client.Gateway;

/// <summary>
/// A deployment's replicas: picks one per attempt (ReplicaPicker), retries on another when an attempt fails
/// before anything came back, never after (a generation is not idempotent once streaming), ejects a replica
/// after consecutive failures and re-admits it when a probe (GET /health) succeeds. The replica list may be
/// replaced at any time (Kubernetes discovery). Thread-safe; disposing stops the probes.
/// </summary>
public sealed class ReplicaSet : IDisposable
{
    private readonly ReplicaSetOptions _options;
    private readonly ReplicaPicker _picker;
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _probing;
    private readonly Lock _updateLock = new();
    private Replica[] _replicas = [];
    private int _disposed;

    public ReplicaSet(string name, RoutingOptions routing, IEnumerable<Uri> replicas, ReplicaSetOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(routing);
        _options = options ?? new ReplicaSetOptions();
        _options.Validate();
        Name = name;
        _picker = new ReplicaPicker(routing);
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            // Pods come and go: do not keep talking to an address longer than a probe round or two.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        }) { Timeout = Timeout.InfiniteTimeSpan };
        SetReplicas(replicas);
        _probing = Task.Run(() => ProbeLoopAsync(_stop.Token));
    }

    /// <summary>The deployment's name, as metrics and messages show it.</summary>
    public string Name { get; }

    public RoutingOptions Routing => _picker.Routing;

    /// <summary>The current replicas, in the order given.</summary>
    public IReadOnlyList<Replica> Replicas => Volatile.Read(ref _replicas);

    /// <summary>Replaces the replica list; replicas that stay keep their state and in-flight requests, removed ones
    /// finish what they have. Used by discovery (Kubernetes EndpointSlices, DNS).</summary>
    public void SetReplicas(IEnumerable<Uri> addresses)
    {
        lock (_updateLock)
        {
            var current = Volatile.Read(ref _replicas).ToDictionary(r => r.BaseAddress.AbsoluteUri, StringComparer.Ordinal);
            var next = addresses.Select(a => new Replica(a)).DistinctBy(r => r.BaseAddress.AbsoluteUri)
                .Select(r => current.GetValueOrDefault(r.BaseAddress.AbsoluteUri) ?? r).ToArray();
            _picker.SetReplicas(next);
            Volatile.Write(ref _replicas, next);
        }
    }

    /// <summary>Sends a request to a replica, trying others while attempts fail before the response headers
    /// (connection refused or reset, timeout) or answer 502/503/504 (down, draining or loading) or 429 (full).
    /// The replica counts the request as in flight until the returned response is disposed, so a caller reading
    /// a stream keeps it loaded. The last retryable answer is returned when every attempt got one.</summary>
    /// <param name="route">Relative to a replica's root, e.g. "generate_stream".</param>
    /// <param name="affinityKey">The prompt's leading text for prefix affinity; null when there is none.</param>
    /// <exception cref="ReplicaUnavailableException">No replica answered.</exception>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string route, ReadOnlyMemory<byte> body, string? contentType,
        IEnumerable<KeyValuePair<string, IEnumerable<string>>>? headers, string? affinityKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(route);
        var tried = new List<Replica>();
        Exception? lastError = null;
        HttpResponseMessage? lastAnswer = null;
        while (tried.Count < _options.MaxAttempts && _picker.Pick(Replicas, affinityKey, tried) is { } replica)
        {
            tried.Add(replica);
            lastAnswer?.Dispose();
            lastAnswer = null;
            replica.Begin();
            var clock = Stopwatch.StartNew();
            HttpResponseMessage response;
            try
            {
                using var request = BuildRequest(replica, method, route, body, contentType, headers);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.ResponseTimeout);
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                End(replica, new ReplicaAttempt(null, clock.Elapsed.TotalSeconds, null, Failed: true));
                Failed(replica, $"request failed before its first byte: {e.Message}", countAsRequestFailure: true);
                lastError = e;
                continue;
            }
            catch
            {
                End(replica, new ReplicaAttempt(null, clock.Elapsed.TotalSeconds, null, Failed: false));
                throw;
            }
            var status = (int)response.StatusCode;
            var headersSeconds = clock.Elapsed.TotalSeconds;
            if (status is 502 or 503 or 504 or 429)
            {
                // Nothing was generated: the replica refused before starting. Full (429) is not unhealthy.
                var unhealthy = status != 429;
                End(replica, new ReplicaAttempt(headersSeconds, headersSeconds, status, unhealthy));
                if (unhealthy) Failed(replica, $"answered {status}", countAsRequestFailure: true);
                lastAnswer = response;
                continue;
            }
            if (replica.Succeed()) _options.OnHealthChanged?.Invoke(Name, replica, true, $"answered {status}");
            response.Content = new ReplicaLeaseContent(response.Content, () => End(replica,
                new ReplicaAttempt(headersSeconds, clock.Elapsed.TotalSeconds, status, Failed: false)));
            return response;
        }
        if (lastAnswer is not null) return lastAnswer;
        var replicas = Replicas;
        throw new ReplicaUnavailableException(replicas.Count == 0
            ? $"Deployment '{Name}' has no replicas (none discovered yet, or none ready)."
            : $"Deployment '{Name}': no replica answered ({tried.Count} tried of {replicas.Count}): {lastError?.Message}", lastError);
    }

    /// <summary>For callers speaking another protocol (the host's gRPC relay): the replica for an attempt, or null
    /// when none is left to try. Begin it, and end it with EndAttempt once its answer is done.</summary>
    public Replica? PickReplica(string? affinityKey, IReadOnlyCollection<Replica> tried) => _picker.Pick(Replicas, affinityKey, tried);

    public static void BeginAttempt(Replica replica) => replica.Begin();

    /// <param name="failure">Why the attempt failed before a first byte (it counts toward ejection); null when it did not.</param>
    public void EndAttempt(Replica replica, ReplicaAttempt attempt, string? failure)
    {
        End(replica, attempt);
        if (failure is not null) Failed(replica, failure, countAsRequestFailure: true);
        else if (replica.Succeed()) _options.OnHealthChanged?.Invoke(Name, replica, true, "answered");
    }

    private void End(Replica replica, ReplicaAttempt attempt)
    {
        replica.End();
        _options.OnAttempt?.Invoke(Name, replica, attempt);
    }

    private void Failed(Replica replica, string reason, bool countAsRequestFailure)
    {
        if (replica.Fail(_options.FailuresToEject, countAsRequestFailure))
            _options.OnHealthChanged?.Invoke(Name, replica, false, $"{replica.ConsecutiveFailures} consecutive failures, last: {reason}");
    }

    private static HttpRequestMessage BuildRequest(Replica replica, HttpMethod method, string route, ReadOnlyMemory<byte> body, string? contentType,
        IEnumerable<KeyValuePair<string, IEnumerable<string>>>? headers)
    {
        var request = new HttpRequestMessage(method, new Uri(replica.BaseAddress, route.TrimStart('/')));
        if (!body.IsEmpty || contentType is not null)
        {
            request.Content = new ReadOnlyMemoryContent(body);
            if (contentType is not null) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        foreach (var (name, values) in headers ?? [])
            request.Headers.TryAddWithoutValidation(name, values);
        return request;
    }

    /// <summary>Probes every replica each interval; a success re-admits, failures count toward ejection.</summary>
    private async Task ProbeLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.ProbeInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
                await Task.WhenAll(Replicas.Select(r => ProbeAsync(r, ct))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // disposed
        }
    }

    internal async Task ProbeAsync(Replica replica, CancellationToken ct)
    {
        bool healthy;
        string reason;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ProbeTimeout);
        try
        {
            if (replica.BaseAddress.Scheme == "grpc")
            {
                if (_options.GrpcProbe is not { } probe) return;
                healthy = await probe(replica.BaseAddress, timeout.Token).ConfigureAwait(false);
                reason = healthy ? "gRPC health check SERVING" : "gRPC health check not SERVING";
            }
            else
            {
                using var response = await _http.GetAsync(new Uri(replica.BaseAddress, "health"), timeout.Token).ConfigureAwait(false);
                healthy = response.IsSuccessStatusCode;
                reason = $"GET /health answered {(int)response.StatusCode}";
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            healthy = false;
            reason = $"GET /health failed: {e.Message}";
        }
        if (!healthy) Failed(replica, reason, countAsRequestFailure: false);
        else if (replica.Succeed()) _options.OnHealthChanged?.Invoke(Name, replica, true, reason);
    }

    /// <summary>A handler that sends through this set, for TgiClient / OpenAIClient: the request's path and query,
    /// taken relative to <paramref name="clientBase"/> (the clients' BaseAddress), go to the picked replica.</summary>
    public HttpMessageHandler CreateHandler(Uri clientBase) => new ReplicaRoutingHandler(this, clientBase);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { _probing.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { /* the loop only ends by cancellation */ }
        _stop.Dispose();
        _http.Dispose();
    }

    /// <summary>The replica's body, ending the replica's in-flight count once (when the response is disposed).</summary>
    private sealed class ReplicaLeaseContent : HttpContent
    {
        private readonly HttpContent _inner;
        private Action? _onDone;

        public ReplicaLeaseContent(HttpContent inner, Action onDone)
        {
            _inner = inner;
            _onDone = onDone;
            foreach (var (name, values) in inner.Headers) Headers.TryAddWithoutValidation(name, values);
        }

        protected override Task<Stream> CreateContentReadStreamAsync() => _inner.ReadAsStreamAsync();

        protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => _inner.ReadAsStreamAsync(cancellationToken);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => _inner.CopyToAsync(stream, context);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            _inner.CopyToAsync(stream, context, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                Interlocked.Exchange(ref _onDone, null)?.Invoke();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>Routes an HttpClient's requests through a ReplicaSet (see ReplicaSet.CreateHandler).</summary>
internal sealed class ReplicaRoutingHandler(ReplicaSet replicas, Uri clientBase) : HttpMessageHandler
{
    private readonly string _base = clientBase.AbsoluteUri.EndsWith('/') ? clientBase.AbsoluteUri : clientBase.AbsoluteUri + "/";

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri!.AbsoluteUri;
        if (!uri.StartsWith(_base, StringComparison.Ordinal))
            throw new InvalidOperationException($"Request for {uri} is outside {_base}, the replica set's client base.");
        // Buffered: a retry on another replica sends the same bytes again.
        var body = request.Content is null ? default : (ReadOnlyMemory<byte>)await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var contentType = request.Content?.Headers.ContentType?.ToString();
        try
        {
            return await replicas.SendAsync(request.Method, uri[_base.Length..], body, contentType, request.Headers, null, cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaUnavailableException e)
        {
            // What the clients' error translation knows as a connection failure.
            throw new HttpRequestException(HttpRequestError.ConnectionError, e.Message, e);
        }
    }
}
