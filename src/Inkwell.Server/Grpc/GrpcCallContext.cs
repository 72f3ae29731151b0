using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Grpc;

/// <summary>One call as a handler sees it: its token (client gone or deadline passed), deadline and the HTTP request.</summary>
public sealed class GrpcCallContext
{
    private readonly GrpcServerOptions _options;

    internal GrpcCallContext(HttpContext httpContext, GrpcServerOptions options, CancellationToken cancellationToken, DateTimeOffset? deadline)
    {
        HttpContext = httpContext;
        _options = options;
        CancellationToken = cancellationToken;
        Deadline = deadline;
    }

    public HttpContext HttpContext { get; }

    /// <summary>Cancelled when the client cancels (RST_STREAM, disconnect) or the grpc-timeout deadline passes.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>From the grpc-timeout header; null when the client set none.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Whether a response message went out; decides between trailers and a trailers-only response.</summary>
    internal bool ResponseStarted { get; private set; }

    internal Task<T> ReadRequestAsync<T>(MessageParser<T> parser) where T : IMessage<T> =>
        GrpcFraming.ReadSingleMessageAsync(HttpContext.Request.BodyReader, parser, _options.MaxReceiveMessageSize, CancellationToken);

    /// <summary>Writes one response message; streams flush each one so the client sees tokens as they come.</summary>
    internal async ValueTask WriteResponseAsync(IMessage message, bool flush)
    {
        var writer = HttpContext.Response.BodyWriter;
        GrpcFraming.WriteMessage(writer, message, _options.MaxSendMessageSize);
        ResponseStarted = true;
        if (flush) await writer.FlushAsync(CancellationToken);
    }
}
