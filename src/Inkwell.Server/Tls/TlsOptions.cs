namespace Inkwell.Server.Tls;

/// <summary>
/// Server TLS from PEM files, as TGIS configures it: a certificate (optionally followed by its intermediates) and
/// its key; with a client CA, clients must present a certificate issued by that CA (mutual TLS).
/// </summary>
public sealed record TlsOptions
{
    public const string CertPathVariable = "TLS_CERT_PATH";
    public const string KeyPathVariable = "TLS_KEY_PATH";
    public const string ClientCaCertPathVariable = "TLS_CLIENT_CA_CERT_PATH";

    public required string CertPath { get; init; }
    public required string KeyPath { get; init; }
    public string? ClientCaCertPath { get; init; }

    public bool RequiresClientCertificate => ClientCaCertPath is not null;

    /// <summary>
    /// From TLS_CERT_PATH, TLS_KEY_PATH and TLS_CLIENT_CA_CERT_PATH; null when TLS is not configured.
    /// A half-configured TLS (cert without key, CA without cert) is an error rather than a silent cleartext server.
    /// </summary>
    public static TlsOptions? FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        string? cert = NullIfEmpty(getVariable(CertPathVariable));
        string? key = NullIfEmpty(getVariable(KeyPathVariable));
        string? clientCa = NullIfEmpty(getVariable(ClientCaCertPathVariable));

        if (cert is null && key is null)
        {
            return clientCa is null
                ? null
                : throw new InvalidOperationException($"{ClientCaCertPathVariable} needs {CertPathVariable} and {KeyPathVariable} too.");
        }
        if (cert is null || key is null)
        {
            throw new InvalidOperationException($"{CertPathVariable} and {KeyPathVariable} must be set together.");
        }
        return new TlsOptions { CertPath = cert, KeyPath = key, ClientCaCertPath = clientCa };
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
