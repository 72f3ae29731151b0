using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Inkwell.Models.Hub;

/// <summary>What the revision API says: the commit a revision stands for and the repository's files.</summary>
public sealed record HubRevision(string Commit, IReadOnlyList<string> Files);

/// <summary>
/// What a HEAD on /{repo}/resolve/{revision}/{file} says, read as huggingface_hub's get_hf_file_metadata does:
/// X-Repo-Commit; X-Linked-Etag (the LFS object's SHA-256) else ETag, quotes and W/ removed; X-Linked-Size else
/// Content-Length; and where to GET the bytes (the absolute redirect's Location, else the resolved URL).
/// </summary>
public sealed record HubFileMetadata(string Commit, string Etag, long Size, Uri Location);

/// <summary>The Hub's HTTP protocol: the revision API, file metadata, and ranged downloads.</summary>
public sealed class HubApi : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient _http;
    private readonly HubSettings _settings;
    private readonly string _endpoint; // without the trailing '/' that Uri adds back

    public HubApi(HubSettings settings, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _endpoint = settings.Endpoint.ToString().TrimEnd('/');
        // Redirects are followed here, not by the handler: a relative one (a renamed repository) keeps the token,
        // an absolute one (the CDN) must not receive it, and HEAD must stop at an absolute one to read its headers.
        _http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = Timeout.InfiniteTimeSpan, // bodies of many GB: a stalled read is detected per read instead
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("inkwell", "1.0"));
    }

    public async Task<HubRevision> GetRevisionAsync(string repository, string revision, CancellationToken ct)
    {
        var url = new Uri($"{_endpoint}/api/models/{repository}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await SendAsync(HttpMethod.Get, url, null, followAbsolute: true, ct);
        if (!response.IsSuccessStatusCode) throw Failure(response, $"{repository}@{revision}", repository, revision);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(ct));
        var root = doc.RootElement;
        string? commit = root.TryGetProperty("sha", out var sha) ? sha.GetString() : null;
        if (commit is null || !HubCache.IsCommitHash(commit))
            throw new HubException($"{url}: the revision API answered without a commit hash (\"sha\")");
        var files = root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array
            ? siblings.EnumerateArray().Select(s => s.TryGetProperty("rfilename", out var name) ? name.GetString() : null).OfType<string>().ToList()
            : throw new HubException($"{url}: the revision API answered without a file list (\"siblings\")");
        return new HubRevision(commit, files);
    }

    public async Task<HubFileMetadata> GetFileMetadataAsync(string repository, string revision, string file, CancellationToken ct)
    {
        var url = ResolveUrl(repository, revision, file);
        // identity: Content-Length must be the file's size, not a compressed one's (as huggingface_hub asks).
        using var response = await SendAsync(HttpMethod.Head, url, r => r.Headers.AcceptEncoding.ParseAdd("identity"), followAbsolute: false, ct);
        int status = (int)response.StatusCode;
        if (status is < 200 or >= 400) throw Failure(response, $"{repository}/{file}@{revision}", repository, revision);
        string what = url.ToString();
        string commit = Header(response, "X-Repo-Commit") ?? throw new HubException($"{what}: the Hub's answer has no X-Repo-Commit");
        string etag = NormalizeEtag(Header(response, "X-Linked-Etag") ?? Header(response, "ETag"))
            ?? throw new HubException($"{what}: the Hub's answer has no ETag, so the file's version cannot be told");
        string? sizeText = Header(response, "X-Linked-Size") ?? response.Content.Headers.ContentLength?.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!long.TryParse(sizeText, out long size) || size < 0) throw new HubException($"{what}: the Hub's answer has no size (X-Linked-Size or Content-Length)");
        var location = response.Headers.Location is { } redirect ? new Uri(response.RequestMessage!.RequestUri!, redirect) : response.RequestMessage!.RequestUri!;
        return new HubFileMetadata(commit, etag, size, location);
    }

    /// <summary>GETs <paramref name="url"/> from byte <paramref name="from"/> on (a Range request when above 0),
    /// following every redirect; the caller reads the body and checks the status.</summary>
    public async Task<HttpResponseMessage> GetAsync(Uri url, long from, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Get, url, r => { if (from > 0) r.Headers.Range = new RangeHeaderValue(from, null); }, followAbsolute: true, ct);
        if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable) return response;
        using (response) throw Failure(response, url.ToString(), null, null);
    }

    public Uri ResolveUrl(string repository, string revision, string file) =>
        new($"{_endpoint}/{repository}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, Action<HttpRequestMessage>? configure, bool followAbsolute, CancellationToken ct)
    {
        for (int hop = 0; hop <= MaxRedirects; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            configure?.Invoke(request);
            if (_settings.Token is { } token && IsHub(url)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if ((int)response.StatusCode is < 300 or >= 400 || response.Headers.Location is not { } location) return response;
            if (location.IsAbsoluteUri && !followAbsolute) return response;
            url = new Uri(url, location);
            response.Dispose();
        }
        throw new HubException($"{url}: more than {MaxRedirects} redirects");
    }

    private bool IsHub(Uri url) => Uri.Compare(url, _settings.Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.FirstOrDefault() : null;

    /// <summary>huggingface_hub's _normalize_etag: drop a weak-validator "W/" and the quotes.</summary>
    internal static string? NormalizeEtag(string? etag) =>
        etag is null ? null : (etag.StartsWith("W/", StringComparison.Ordinal) ? etag[2..] : etag).Trim('"') is { Length: > 0 } e ? e : null;

    /// <summary>One clear sentence per refusal, using the Hub's X-Error-Code when it sends one.</summary>
    private HubException Failure(HttpResponseMessage response, string what, string? repository, string? revision)
    {
        int status = (int)response.StatusCode;
        string? code = Header(response, "X-Error-Code");
        string repo = repository ?? what;
        string page = $"{_endpoint}/{repo}";
        string tokenHint = _settings.Token is null
            ? "set HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) to an access token of an account that may read it"
            : "the token in HF_TOKEN has no access to it (a gated model: accept its conditions on " + page + " with the token's account)";
        string message = (status, code) switch
        {
            (401 or 403, "GatedRepo") => $"{repo} is gated (HTTP {status}): accept its conditions on {page}, then {(_settings.Token is null ? "set HF_TOKEN to a token of that account" : "make sure HF_TOKEN belongs to that account")}",
            (401 or 403, _) => $"{what}: HTTP {status}, {repo} is private or gated (or does not exist): {tokenHint}",
            (404, "RevisionNotFound") => $"{repo}: revision '{revision}' not found",
            (404, "EntryNotFound") => $"{what}: no such file in the repository",
            (404, _) => $"{what}: not found on {_endpoint} (HTTP 404){(repository is null ? "" : $"; check the name {repository}")}",
            _ => $"{what}: HTTP {status} {response.ReasonPhrase}",
        };
        return new HubException(message);
    }

    public void Dispose() => _http.Dispose();
}
