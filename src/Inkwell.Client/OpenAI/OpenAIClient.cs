using Inkwell.Client.ChatClient;
using Inkwell.Client.Http;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.OpenAI;

/// <summary>Client for the OpenAI-compatible routes (/v1/chat/completions, /v1/completions, /v1/models).
/// BaseAddress is the server root, without /v1. Thread-safe; keep one per endpoint.</summary>
public sealed class OpenAIClient : IDisposable
{
    private const string ChatRoute = "v1/chat/completions";
    private const string CompletionRoute = "v1/completions";
    private readonly InferenceTransport _transport;

    public OpenAIClient(Uri baseAddress) : this(new InferenceClientOptions { BaseAddress = baseAddress }) { }

    public OpenAIClient(InferenceClientOptions options) : this(options, handler: null) { }

    /// <param name="handler">Replaces the default socket handler (tests, custom proxies); not disposed by the client.</param>
    public OpenAIClient(InferenceClientOptions options, HttpMessageHandler? handler) => _transport = new InferenceTransport(options, handler);

    public InferenceClientOptions Options => _transport.Options;

    public async Task<ChatCompletionResponse> ChatCompletionAsync(ChatCompletionRequest request, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = request with { Stream = false, StreamOptions = null };
        try
        {
            return await _transport.SendAsync(HttpMethod.Post, ChatRoute,
                () => InferenceTransport.Json(body, ClientJsonContext.Default.ChatCompletionRequest),
                ClientJsonContext.Default.ChatCompletionResponse, options, cancellationToken).ConfigureAwait(false);
        }
        catch (InferenceClientException ex) when (Options.ReturnEmptyOnFailure)
        {
            return new ChatCompletionResponse { Model = request.Model, Error = ex.Error };
        }
    }

    /// <summary>Streams chat completion chunks until the server's [DONE].</summary>
    public IAsyncEnumerable<ChatCompletionChunk> ChatCompletionStreamAsync(ChatCompletionRequest request, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = request with { Stream = true };
        return JsonEventStream.ReadAsync(_transport, ChatRoute,
            () => InferenceTransport.Json(body, ClientJsonContext.Default.ChatCompletionRequest),
            ClientJsonContext.Default.ChatCompletionChunk, error => new ChatCompletionChunk { Model = request.Model, Error = error },
            options, cancellationToken);
    }

    public async Task<CompletionResponse> CompletionAsync(CompletionRequest request, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = request with { Stream = false };
        try
        {
            return await _transport.SendAsync(HttpMethod.Post, CompletionRoute,
                () => InferenceTransport.Json(body, ClientJsonContext.Default.CompletionRequest),
                ClientJsonContext.Default.CompletionResponse, options, cancellationToken).ConfigureAwait(false);
        }
        catch (InferenceClientException ex) when (Options.ReturnEmptyOnFailure)
        {
            return new CompletionResponse { Model = request.Model, Error = ex.Error };
        }
    }

    /// <summary>Streams completion events (each shaped like a CompletionResponse) until [DONE].</summary>
    public IAsyncEnumerable<CompletionResponse> CompletionStreamAsync(CompletionRequest request, RequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = request with { Stream = true };
        return JsonEventStream.ReadAsync(_transport, CompletionRoute,
            () => InferenceTransport.Json(body, ClientJsonContext.Default.CompletionRequest),
            ClientJsonContext.Default.CompletionResponse, error => new CompletionResponse { Model = request.Model, Error = error },
            options, cancellationToken);
    }

    /// <summary>GET /v1/models.</summary>
    public Task<ModelList> ListModelsAsync(RequestOptions? options = null, CancellationToken cancellationToken = default) =>
        _transport.SendAsync(HttpMethod.Get, "v1/models", () => null, ClientJsonContext.Default.ModelList, options, cancellationToken);

    /// <summary>This client as a Microsoft.Extensions.AI IChatClient over the chat route; disposing the
    /// returned IChatClient does not dispose this client.</summary>
    public IChatClient AsChatClient(string defaultModel) => new InkwellChatClient(this, defaultModel);

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
