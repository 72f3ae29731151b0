using System.Net;

namespace Inkwell.Client;

/// <summary>Why a call failed, in broad classes a caller can act on.</summary>
public enum InferenceFailureKind
{
    /// <summary>The server answered with an error status (see StatusCode, ErrorType).</summary>
    HttpError,
    /// <summary>The endpoint could not be reached (refused, reset, closed early).</summary>
    Connection,
    /// <summary>The host name did not resolve, or not within DnsTimeout.</summary>
    NameResolution,
    /// <summary>No answer (or no next stream event) within the timeout.</summary>
    Timeout,
    /// <summary>The server reported an error inside an event stream.</summary>
    StreamError,
    /// <summary>The server's answer could not be understood.</summary>
    InvalidResponse,
}

/// <summary>A failed call, as data: kept on results when ReturnEmptyOnFailure is set.</summary>
/// <param name="Message">The server's error text, or a description of the local failure.</param>
/// <param name="ErrorType">The server's error_type (TGI: validation, generation, overloaded, unhealthy...).</param>
public sealed record InferenceError(
    InferenceFailureKind Kind,
    string Message,
    int? StatusCode = null,
    string? ErrorType = null,
    string? Endpoint = null)
{
    public override string ToString()
    {
        var status = StatusCode is { } code ? $" {code}" : "";
        var type = ErrorType is null ? "" : $" ({ErrorType})";
        var where = Endpoint is null ? "" : $" from {Endpoint}";
        return $"{Kind}{status}{type}{where}: {Message}";
    }
}

/// <summary>A call to an inference server failed; Error carries status code, error text and error_type.</summary>
public sealed class InferenceClientException : Exception
{
    public InferenceClientException(InferenceError error, bool isTransient, Exception? inner = null, TimeSpan? retryAfter = null)
        : base(error.ToString(), inner)
    {
        Error = error;
        IsTransient = isTransient;
        RetryAfter = retryAfter;
    }

    public InferenceError Error { get; }

    public InferenceFailureKind Kind => Error.Kind;

    public int? StatusCode => Error.StatusCode;

    public string ErrorText => Error.Message;

    public string? ErrorType => Error.ErrorType;

    /// <summary>True when trying again may succeed (the client already did, up to MaxAttempts).</summary>
    public bool IsTransient { get; }

    /// <summary>The server's Retry-After, when it sent one.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>429, 408 and every 5xx may pass; 4xx like 422 (validation) will not.</summary>
    internal static bool IsTransientStatus(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;
}
