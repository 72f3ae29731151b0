using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Inkwell.Server.Http;

/// <summary>Why a request body was refused before any route looked at it; each API maps these to its own status and shape.</summary>
public enum BodyProblem
{
    /// <summary>Not application/json (415): a text/plain or form POST, which a web page may send cross-site without a preflight.</summary>
    UnsupportedMediaType,
    /// <summary>Over the payload limit (413).</summary>
    TooLarge,
    /// <summary>The body arrived slower than Kestrel's minimum data rate (408).</summary>
    Timeout,
    /// <summary>Not UTF-8, or a JSON string escape that is not a whole code point (a lone surrogate).</summary>
    InvalidEncoding,
    /// <summary>Not JSON, or JSON that does not fit the route's schema.</summary>
    InvalidJson,
}

public sealed class RequestBodyException(BodyProblem problem, string message) : Exception(message)
{
    public BodyProblem Problem { get; } = problem;

    /// <summary>The transport's status for the transport's problems; null where the API chooses (TGI 422, OpenAI 400).</summary>
    public int? TransportStatus => Problem switch
    {
        BodyProblem.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        BodyProblem.TooLarge => StatusCodes.Status413PayloadTooLarge,
        BodyProblem.Timeout => StatusCodes.Status408RequestTimeout,
        _ => null,
    };
}

/// <summary>
/// The one place every JSON route reads its body: content type, size (Kestrel's MaxRequestBodySize, TGI's
/// --payload-limit), UTF-8 validity, JSON syntax and string escapes are checked before the body is deserialized,
/// so a DTO's JsonElement fields never meet text that cannot become a .NET string.
/// </summary>
public static class JsonBody
{
    public const string ContentTypeMessage = "Expected request with `Content-Type: application/json`";
    private const int MaxDepth = 64;

    /// <summary>The body as <typeparamref name="T"/>; throws <see cref="RequestBodyException"/>.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonSerializerOptions options, CancellationToken ct) where T : class
    {
        CheckContentType(request.ContentType);
        var bytes = await ReadBytesAsync(request, ct);
        Validate(bytes);
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, options) ?? throw new JsonException("the body is null");
        }
        catch (JsonException e)
        {
            throw new RequestBodyException(BodyProblem.InvalidJson, e.Message);
        }
    }

    /// <summary>application/json, or a +json type; a charset other than UTF-8 is refused (JSON is UTF-8, RFC 8259).</summary>
    public static void CheckContentType(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media)) throw Unsupported();
        bool json = media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (media.Type.Equals("application", StringComparison.OrdinalIgnoreCase) && media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
        if (!json) throw Unsupported();
        if (media.Charset is { Length: > 0 } charset && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
            throw new RequestBodyException(BodyProblem.UnsupportedMediaType, $"{ContentTypeMessage} in UTF-8; got charset={charset}");
    }

    private static RequestBodyException Unsupported() => new(BodyProblem.UnsupportedMediaType, ContentTypeMessage);

    private static async Task<byte[]> ReadBytesAsync(HttpRequest request, CancellationToken ct)
    {
        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        long? limit = sizeFeature?.MaxRequestBodySize;
        if (request.ContentLength is { } declared && declared > limit)
        {
            await DiscardAsync(request, sizeFeature!, declared, limit.Value, ct);
            throw TooLarge(limit.Value);
        }
        var buffer = new ArrayBufferWriter<byte>((int)Math.Clamp(request.ContentLength ?? 4096, 1, 1 << 20));
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(4096);
                int read = await request.Body.ReadAsync(memory, ct);
                if (read == 0) break;
                buffer.Advance(read);
                if (buffer.WrittenCount > limit) throw TooLarge(limit.Value);
            }
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own limits, met while reading: the size limit and the minimum data rate.
            throw e.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => TooLarge(limit ?? 0),
                StatusCodes.Status408RequestTimeout => new RequestBodyException(BodyProblem.Timeout, "the request body arrived too slowly"),
                _ => new RequestBodyException(BodyProblem.InvalidJson, e.Message),
            };
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads and drops a declared-too-large body that is not absurdly large (up to <see cref="DiscardFactor"/> times
    /// the limit), so a client that sends it all before reading gets the 413 instead of a broken pipe.
    /// </summary>
    private static async Task DiscardAsync(HttpRequest request, IHttpMaxRequestBodySizeFeature sizeFeature, long declared, long limit, CancellationToken ct)
    {
        if (sizeFeature.IsReadOnly || declared > limit * DiscardFactor) return;
        sizeFeature.MaxRequestBodySize = declared;
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        try
        {
            while (await request.Body.ReadAsync(buffer, ct) > 0) { }
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
        {
            // The client went away or stalled: nothing more to do than refuse.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const long DiscardFactor = 4;

    private static RequestBodyException TooLarge(long limit) =>
        new(BodyProblem.TooLarge, $"Request body too large: the limit is {limit} bytes");

    /// <summary>Whole-body checks: UTF-8, then one reader pass for syntax, depth and every escaped string's code points.</summary>
    public static void Validate(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty) throw new RequestBodyException(BodyProblem.InvalidJson, "the request body is empty");
        if (!Utf8.IsValid(body))
            throw new RequestBodyException(BodyProblem.InvalidEncoding, $"the request body is not valid UTF-8 (at byte {FirstInvalidByte(body)})");
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped) continue;
                try
                {
                    // Unescaping refuses a \uD800 without its pair (or a lone low half), which no .NET string may hold.
                    reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    throw new RequestBodyException(BodyProblem.InvalidEncoding,
                        $"a string escape at byte {reader.TokenStartIndex} is not a whole Unicode code point (an unpaired surrogate)");
                }
            }
        }
        catch (JsonException e)
        {
            throw new RequestBodyException(BodyProblem.InvalidJson, e.Message);
        }
    }

    private static int FirstInvalidByte(ReadOnlySpan<byte> body)
    {
        int at = 0;
        while (at < body.Length)
        {
            if (Rune.DecodeFromUtf8(body[at..], out _, out int consumed) != OperationStatus.Done) return at;
            at += consumed;
        }
        return at;
    }
}
