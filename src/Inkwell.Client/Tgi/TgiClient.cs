using Inkwell.Client.Http;

namespace Inkwell.Client.Tgi;

/// <summary>Typed client for the text-generation-inference REST API (/generate, /generate_stream, /tokenize,
/// /info, /health), as Inkwell and TGI serve it. Thread-safe; keep one per endpoint.</summary>
public sealed class TgiClient : IDisposable
{
    private readonly InferenceTransport _transport;

    public TgiClient(Uri baseAddress) : this(new InferenceClientOptions { BaseAddress = baseAddress }) { }

    public TgiClient(InferenceClientOptions options) : this(options, handler: null) { }

    /// <param name="handler">Replaces the default socket handler (tests, custom proxies); not disposed by the client.</param>
    public TgiClient(InferenceClientOptions options, HttpMessageHandler? handler) => _transport = new InferenceTransport(options, handler);

    public InferenceClientOptions Options => _transport.Options;

    /// <summary>POST /generate.</summary>
    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            return await _transport.SendAsync(HttpMethod.Post, "generate",
                () => InferenceTransport.Json(request, ClientJsonContext.Default.GenerateRequest),
                ClientJsonContext.Default.GenerateResponse, options, cancellationToken).ConfigureAwait(false);
        }
        catch (InferenceClientException ex) when (Options.ReturnEmptyOnFailure)
        {
            return new GenerateResponse { Error = ex.Error };
        }
    }

    /// <summary>POST /generate with just a prompt and optional parameters.</summary>
    public Task<GenerateResponse> GenerateAsync(string inputs, GenerateParameters? parameters = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(new GenerateRequest { Inputs = inputs, Parameters = parameters }, null, cancellationToken);

    /// <summary>POST /generate_stream: one StreamResponse per token; the last carries GeneratedText and Details.
    /// An error event from the server throws InferenceClientException (Kind StreamError), or under
    /// ReturnEmptyOnFailure ends the stream with an event whose Error is set.</summary>
    public IAsyncEnumerable<StreamResponse> GenerateStreamAsync(GenerateRequest request, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return JsonEventStream.ReadAsync(_transport, "generate_stream",
            () => InferenceTransport.Json(request, ClientJsonContext.Default.GenerateRequest),
            ClientJsonContext.Default.StreamResponse, error => new StreamResponse { Error = error }, options, cancellationToken);
    }

    /// <summary>POST /tokenize: the server's tokens with their character spans in <paramref name="inputs"/>.</summary>
    public Task<IReadOnlyList<SimpleToken>> TokenizeAsync(string inputs, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var request = new GenerateRequest { Inputs = inputs };
        return _transport.SendAsync(HttpMethod.Post, "tokenize",
            () => InferenceTransport.Json(request, ClientJsonContext.Default.GenerateRequest),
            ClientJsonContext.Default.IReadOnlyListSimpleToken, options, cancellationToken);
    }

    /// <summary>GET /info.</summary>
    public Task<ServerInfo> InfoAsync(RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        _transport.SendAsync(HttpMethod.Get, "info", () => null, ClientJsonContext.Default.ServerInfo, options, cancellationToken);

    /// <summary>GET /health, once and without retries (a probe wants the present state): true on 2xx,
    /// false on an error status or an unreachable endpoint. Caller cancellation still throws.</summary>
    public async Task<bool> HealthAsync(RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _transport.SendAsync(HttpMethod.Get, "health", () => null,
                static (_, _) => Task.FromResult(true), options, cancellationToken, retry: false).ConfigureAwait(false);
        }
        catch (InferenceClientException)
        {
            return false;
        }
    }

    /// <summary>Runs many /generate calls with at most <paramref name="maxConcurrency"/> in flight; answers come
    /// back in request order. Without ReturnEmptyOnFailure the first failure cancels the rest and throws.</summary>
    public async Task<IReadOnlyList<GenerateResponse>> GenerateManyAsync(
        IEnumerable<GenerateRequest> requests, int maxConcurrency, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrency, 1);
        var list = requests.ToList();
        var results = new GenerateResponse[list.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, list.Count),
            new ParallelOptions { MaxDegreeOfParallelism = maxConcurrency, CancellationToken = cancellationToken },
            async (i, token) => results[i] = await GenerateAsync(list[i], options, token).ConfigureAwait(false)).ConfigureAwait(false);
        return results;
    }

    /// <summary>Sends a raw request to <paramref name="route"/> (relative to BaseAddress) and returns the answer
    /// once its headers arrive, error statuses included, for proxies that pass bodies and streams through
    /// unchanged. Connection failures are retried; the caller disposes the response.</summary>
    /// <exception cref="InferenceClientException">The endpoint could not be reached (Kind Connection,
    /// NameResolution or Timeout).</exception>
    public Task<HttpResponseMessage> ForwardAsync(HttpMethod method, string route, ReadOnlyMemory<byte> body = default, string? contentType = null,
        RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(route);
        return _transport.ForwardAsync(method, route.TrimStart('/'), () => InferenceTransport.Raw(body, contentType), options, cancellationToken);
    }

    public void Dispose() => _transport.Dispose();
}
