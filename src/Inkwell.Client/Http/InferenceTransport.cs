using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Inkwell.Client.Resilience;
using Polly;

namespace Inkwell.Client.Http;

/// <summary>The HTTP plumbing the TGI and OpenAI clients share: lazy connection, per-attempt timeout,
/// retries of transient failures, error bodies turned into InferenceClientException, SSE streams.</summary>
internal sealed class InferenceTransport : IDisposable
{
    private readonly Lazy<HttpClient> _http;
    private readonly ResiliencePipeline _pipeline;
    private readonly Uri _baseAddress;

    public InferenceTransport(InferenceClientOptions options, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _baseAddress = options.BaseAddress.AbsoluteUri.EndsWith('/') ? options.BaseAddress : new Uri(options.BaseAddress.AbsoluteUri + "/");
        _pipeline = RetryPipelineFactory.Create(options);
        // Lazy: constructing a client touches no network and no sockets; the first request does.
        _http = new Lazy<HttpClient>(() => CreateHttpClient(options, handler), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public InferenceClientOptions Options { get; }

    /// <summary>True once the first request created the connection pool.</summary>
    public bool IsConnected => _http.IsValueCreated;

    /// <summary>The absolute URL of a route (relative to BaseAddress), as requests and error messages use it.</summary>
    public string Endpoint(string route) => new Uri(_baseAddress, route).AbsoluteUri;

    private static HttpClient CreateHttpClient(InferenceClientOptions options, HttpMessageHandler? handler)
    {
        var client = new HttpClient(handler ?? ConnectionFactory.CreateHandler(options), disposeHandler: handler is null)
        {
            Timeout = Timeout.InfiniteTimeSpan, // timeouts are ours, per attempt
        };
        if (options.ApiKey is { } key) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public static HttpContent Json<T>(T body, JsonTypeInfo<T> typeInfo) =>
        new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, typeInfo)) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };

    /// <summary>A body as given (null when empty and untyped, e.g. for GET).</summary>
    public static HttpContent? Raw(ReadOnlyMemory<byte> body, string? contentType)
    {
        if (body.IsEmpty && contentType is null) return null;
        var content = new ReadOnlyMemoryContent(body);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    /// <summary>Sends a request (rebuilt per attempt by <paramref name="content"/>) and parses a JSON answer.</summary>
    public Task<TResponse> SendAsync<TResponse>(
        HttpMethod method, string route, Func<HttpContent?> content, JsonTypeInfo<TResponse> responseType,
        RequestOptions? requestOptions, CancellationToken cancellationToken) =>
        SendAsync(method, route, content, async (response, token) =>
        {
            var body = await response.Content.ReadAsByteArrayAsync(token).ConfigureAwait(false);
            try
            {
                return JsonSerializer.Deserialize(body, responseType)
                       ?? throw new JsonException("the body was JSON null");
            }
            catch (JsonException ex)
            {
                throw InvalidResponse(Endpoint(route), $"could not parse {typeof(TResponse).Name}: {ex.Message}; body: {Truncate(Encoding.UTF8.GetString(body))}", ex);
            }
        }, requestOptions, cancellationToken);

    /// <summary>Runs one request under the retry pipeline; <paramref name="readSuccess"/> runs inside the attempt,
    /// so a timeout while reading the body counts (and is retried) too.</summary>
    public Task<T> SendAsync<T>(
        HttpMethod method, string route, Func<HttpContent?> content,
        Func<HttpResponseMessage, CancellationToken, Task<T>> readSuccess,
        RequestOptions? requestOptions, CancellationToken cancellationToken, bool retry = true) =>
        SendCoreAsync(method, route, content, readSuccess, keepResponse: false, requestOptions, cancellationToken, retry);

    /// <summary>Opens an SSE stream (retrying until headers arrive) and yields its data payloads. Nothing is
    /// retried after that, since the caller may already have seen events.</summary>
    public async IAsyncEnumerable<string> StreamAsync(
        string route, Func<HttpContent?> content, RequestOptions? requestOptions,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var timeout = requestOptions?.Timeout ?? Options.DefaultRequestTimeout;
        route = Endpoint(route);
        using var response = await SendCoreAsync(HttpMethod.Post, route, content,
            static (r, _) => Task.FromResult(r), keepResponse: true, requestOptions, cancellationToken).ConfigureAwait(false);
        Stream stream;
        try
        {
            stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new InferenceClientException(new InferenceError(InferenceFailureKind.Connection, Describe(ex), Endpoint: route), false, ex);
        }
        await using (stream.ConfigureAwait(false))
        {
            await foreach (var evt in ServerSentEvents.ReadAsync(stream, timeout, route, cancellationToken).ConfigureAwait(false))
                yield return evt.Data;
        }
    }

    /// <summary>Sends a request and returns the response as soon as its headers arrive, whatever its status
    /// (a proxy passes error answers through). Only connection failures are retried: nothing reached the server,
    /// so a retry cannot run a generation twice. The caller disposes the response.</summary>
    /// <exception cref="InferenceClientException">The endpoint was unreachable, unresolvable or silent (Kind
    /// Connection, NameResolution or Timeout).</exception>
    public Task<HttpResponseMessage> ForwardAsync(
        HttpMethod method, string route, Func<HttpContent?> content, RequestOptions? requestOptions, CancellationToken cancellationToken)
    {
        var timeout = requestOptions?.Timeout ?? Options.DefaultRequestTimeout;
        route = Endpoint(route);
        return _pipeline.ExecuteAsync(async token =>
        {
            // Not linked to a per-attempt source that is disposed on return: the caller keeps reading the body.
            using var headersCts = CancellationTokenSource.CreateLinkedTokenSource(token);
            headersCts.CancelAfter(timeout);
            try
            {
                using var request = new HttpRequestMessage(method, route) { Content = content() };
                return await _http.Value.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headersCts.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                if (Translate(ex, route, timeout, headersCts, token) is not { } translated) throw;
                // A timeout may mean the server is still generating: retrying would run the request twice.
                if (translated.Kind == InferenceFailureKind.Timeout)
                    throw new InferenceClientException(translated.Error, isTransient: false, ex);
                throw translated;
            }
        }, cancellationToken).AsTask();
    }

    private async Task<T> SendCoreAsync<T>(
        HttpMethod method, string route, Func<HttpContent?> content,
        Func<HttpResponseMessage, CancellationToken, Task<T>> readSuccess, bool keepResponse,
        RequestOptions? requestOptions, CancellationToken cancellationToken, bool retry = true)
    {
        var timeout = requestOptions?.Timeout ?? Options.DefaultRequestTimeout;
        route = Endpoint(route);
        var pipeline = retry ? _pipeline : ResiliencePipeline.Empty;
        return await pipeline.ExecuteAsync(async token =>
        {
            using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(token);
            attemptCts.CancelAfter(timeout);
            HttpResponseMessage? response = null;
            try
            {
                using var request = new HttpRequestMessage(method, route) { Content = content() };
                response = await _http.Value.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCts.Token).ConfigureAwait(false);
                await EnsureSuccessAsync(response, route, attemptCts.Token).ConfigureAwait(false);
                var result = await readSuccess(response, attemptCts.Token).ConfigureAwait(false);
                if (!keepResponse) response.Dispose();
                return result;
            }
            catch (Exception ex)
            {
                response?.Dispose();
                if (Translate(ex, route, timeout, attemptCts, token) is { } translated) throw translated;
                throw;
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string route, CancellationToken token)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(token).ConfigureAwait(false);
        var parsed = ErrorBody.TryParse(body);
        var status = (int)response.StatusCode;
        var message = parsed?.Message ?? (body.Length == 0 ? response.ReasonPhrase ?? $"HTTP {status}" : Truncate(body));
        throw new InferenceClientException(
            new InferenceError(InferenceFailureKind.HttpError, message, status, parsed?.ErrorType, route),
            InferenceClientException.IsTransientStatus(response.StatusCode),
            retryAfter: RetryAfter(response));
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date) return date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        return null;
    }

    /// <summary>Maps a low-level failure to an InferenceClientException, or null to let it pass (our own
    /// exceptions, caller cancellation).</summary>
    private static InferenceClientException? Translate(Exception ex, string route, TimeSpan timeout, CancellationTokenSource attemptCts, CancellationToken outer)
    {
        if (ex is InferenceClientException) return null;
        if (outer.IsCancellationRequested) return null;
        if (FindInner<NameResolutionException>(ex) is { } dns)
            // Not transient: the brief is to fail fast, not to wait out DnsTimeout once per attempt.
            return new InferenceClientException(new InferenceError(InferenceFailureKind.NameResolution, dns.Message, Endpoint: route), false, ex);
        if (ex is OperationCanceledException && attemptCts.IsCancellationRequested)
            return new InferenceClientException(
                new InferenceError(InferenceFailureKind.Timeout, $"no answer within {timeout.TotalSeconds:0.###}s", Endpoint: route), true, ex);
        if (ex is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } nameError)
            return new InferenceClientException(new InferenceError(InferenceFailureKind.NameResolution, nameError.Message, Endpoint: route), false, ex);
        if (ex is HttpRequestException or IOException)
            return new InferenceClientException(new InferenceError(InferenceFailureKind.Connection, Describe(ex), Endpoint: route), true, ex);
        return null;
    }

    private static string Describe(Exception ex)
    {
        var inner = ex.InnerException is { } i && !ex.Message.Contains(i.Message, StringComparison.Ordinal) ? $" ({i.Message})" : "";
        return ex.Message + inner;
    }

    private static T? FindInner<T>(Exception? ex) where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
            if (ex is T match) return match;
        return null;
    }

    public static InferenceClientException InvalidResponse(string route, string message, Exception? inner = null) =>
        new(new InferenceError(InferenceFailureKind.InvalidResponse, message, Endpoint: route), false, inner);

    /// <summary>Turns an {"error": ...} event inside a stream into an exception; returns false for normal events.</summary>
    public static bool TryReadStreamError(JsonElement root, string route, out InferenceClientException? error)
    {
        error = null;
        if (ErrorBody.TryRead(root) is not { } parsed) return false;
        error = new InferenceClientException(
            new InferenceError(InferenceFailureKind.StreamError, parsed.Message, ErrorType: parsed.ErrorType, Endpoint: route), false);
        return true;
    }

    public static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "...";

    public void Dispose()
    {
        if (_http.IsValueCreated) _http.Value.Dispose();
    }
}
