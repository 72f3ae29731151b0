namespace Inkwell.Models.Hub;

/// <summary>
/// Where the Hub and its cache are, read from the same environment variables as huggingface_hub so that Inkwell and
/// Python tools share one cache and one login.
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub's base URL (HF_ENDPOINT); a mirror may serve it under a path.</summary>
    public required Uri Endpoint { get; init; }

    /// <summary>Bearer token for private and gated repositories, or null.</summary>
    public string? Token { get; init; }

    /// <summary>The hub cache directory: it holds models--org--name folders.</summary>
    public required string CacheDirectory { get; init; }

    /// <summary>HF_HUB_OFFLINE: never contact the Hub, use the cache only.</summary>
    public bool Offline { get; init; }

    /// <summary>Files downloaded at once (huggingface_hub's snapshot_download uses 8 workers).</summary>
    public int MaxParallelDownloads { get; init; } = 8;

    /// <summary>Attempts per file after a dropped connection; each resumes where the last one stopped.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Pause before the n-th retry is n times this.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Reads HF_ENDPOINT; HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then the token file `huggingface-cli login` writes
    /// (HF_TOKEN_PATH or HF_HOME/token); the cache from HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, TRANSFORMERS_CACHE,
    /// HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub (first set wins); HF_HUB_OFFLINE.
    /// </summary>
    public static HubSettings FromEnvironment(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? Env(string name) => environment(name) is { Length: > 0 } v ? v : null;
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string Expand(string path) => path == "~" ? home : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, path[2..]) : path;

        string hfHome = Expand(Env("HF_HOME") ?? Path.Combine(Env("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache"), "huggingface"));
        string cache = Expand(Env("HF_HUB_CACHE") ?? Env("HUGGINGFACE_HUB_CACHE") ?? Env("TRANSFORMERS_CACHE") ?? Path.Combine(hfHome, "hub"));
        string endpointText = (Env("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/');
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new ArgumentException($"HF_ENDPOINT must be an http(s) URL, got '{endpointText}'");
        string tokenFile = Expand(Env("HF_TOKEN_PATH") ?? Path.Combine(hfHome, "token"));
        string? token = Env("HF_TOKEN") ?? Env("HUGGING_FACE_HUB_TOKEN")
            ?? (File.Exists(tokenFile) ? File.ReadAllText(tokenFile).Trim() is { Length: > 0 } t ? t : null : null);
        return new HubSettings
        {
            Endpoint = endpoint,
            Token = token,
            CacheDirectory = cache,
            Offline = IsTrue(Env("HF_HUB_OFFLINE")),
        };
    }

    /// <summary>huggingface_hub's reading of a boolean variable.</summary>
    private static bool IsTrue(string? value) => value?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
}
