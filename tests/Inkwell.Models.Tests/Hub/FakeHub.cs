using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inkwell.Models.Tests.Hub;

/// <summary>One file of a fake repository. LFS files are announced by X-Linked-Etag (SHA-256) and X-Linked-Size and
/// redirected to /cdn/; the others are served in place with their git blob id as ETag, as huggingface.co does.</summary>
public sealed class FakeFile(byte[] bytes, bool lfs)
{
    public byte[] Bytes { get; } = bytes;
    public bool Lfs { get; } = lfs;
    /// <summary>What the CDN actually sends, when it is not <see cref="Bytes"/> (a corrupted object).</summary>
    public byte[]? Served { get; init; }
    /// <summary>The first GET sends half the body and then drops the connection.</summary>
    public bool DropHalfwayOnce { get; set; }

    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Bytes));
    /// <summary>git hash-object: SHA-1 of "blob {size}\0" and the bytes.</summary>
    public string GitBlobId => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {Bytes.Length}\0"), .. Bytes]));
    public string Etag => Lfs ? Sha256 : GitBlobId;
}

public sealed class FakeRepo(string id, IReadOnlyDictionary<string, FakeFile> files)
{
    public string Id { get; } = id;
    public string Commit { get; } = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes("commit of " + id)));
    public IReadOnlyDictionary<string, FakeFile> Files { get; } = files;
    /// <summary>Bearer token the repository demands (private or gated), or null.</summary>
    public string? Token { get; init; }
}

/// <summary>
/// The Hugging Face Hub's download endpoints on a loopback Kestrel server: GET /api/models/{id}/revision/{rev},
/// HEAD/GET /{id}/resolve/{rev}/{file} with X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size and X-Error-Code,
/// renamed repositories answered with a relative 307, and a /cdn/ that honours Range.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, FakeRepo> _repos = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _renamed = new(StringComparer.Ordinal);

    /// <summary>"METHOD path [Range]" of every request, in order.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public Uri Endpoint { get; }

    public FakeHub(params FakeRepo[] repos)
    {
        foreach (var r in repos) _repos[r.Id] = r;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(HandleAsync);
        _app.StartAsync().GetAwaiter().GetResult();
        Endpoint = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    /// <summary>Requests for <paramref name="oldId"/> are redirected to <paramref name="newId"/>'s paths.</summary>
    public void Rename(string oldId, string newId) => _renamed[oldId] = newId;

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = Uri.UnescapeDataString(request.Path.Value!);
        Requests.Enqueue($"{request.Method} {path}{(request.Headers.Range.Count > 0 ? " " + request.Headers.Range : "")}");
        var response = context.Response;
        if (path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            await ServeCdnAsync(context, path["/cdn/".Length..]);
            return;
        }
        bool api = path.StartsWith("/api/models/", StringComparison.Ordinal);
        var parts = (api ? path["/api/models/".Length..] : path[1..]).Split('/');
        if (parts.Length < 4) { response.StatusCode = 404; return; }
        string id = parts[0] + "/" + parts[1];
        if (_renamed.TryGetValue(id, out var newId))
        {
            response.StatusCode = 307;
            response.Headers.Location = (api ? "/api/models/" : "/") + newId + "/" + string.Join('/', parts[2..]);
            return;
        }
        if (!_repos.TryGetValue(id, out var repo)) { Refuse(response, 404, "RepoNotFound"); return; }
        if (repo.Token is not null)
        {
            string auth = request.Headers.Authorization.ToString();
            if (auth.Length == 0) { Refuse(response, 401, "RepoNotFound"); return; }
            if (auth != "Bearer " + repo.Token) { Refuse(response, 403, "GatedRepo"); return; }
        }
        string revision = parts[3];
        if (revision != "main" && revision != repo.Commit) { Refuse(response, 404, "RevisionNotFound"); return; }
        if (api && parts[2] == "revision")
        {
            var body = new { id = repo.Id, sha = repo.Commit, siblings = repo.Files.Keys.Select(f => new { rfilename = f }) };
            response.ContentType = "application/json";
            await response.WriteAsync(JsonSerializer.Serialize(body));
            return;
        }
        if (api || parts[2] != "resolve") { response.StatusCode = 404; return; }
        string name = string.Join('/', parts[4..]);
        if (!repo.Files.TryGetValue(name, out var file)) { Refuse(response, 404, "EntryNotFound"); return; }
        response.Headers["X-Repo-Commit"] = repo.Commit;
        if (file.Lfs)
        {
            response.StatusCode = 302;
            response.Headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
            response.Headers["X-Linked-Size"] = file.Bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            response.Headers.ETag = $"\"{file.GitBlobId}\"";
            response.Headers.Location = new Uri(Endpoint, "/cdn/" + file.Sha256).ToString();
            return;
        }
        response.Headers.ETag = $"W/\"{file.GitBlobId}\"";
        response.ContentLength = file.Bytes.Length;
        if (HttpMethods.IsGet(request.Method)) await response.Body.WriteAsync(file.Bytes);
    }

    private async Task ServeCdnAsync(HttpContext context, string sha256)
    {
        var file = _repos.Values.SelectMany(r => r.Files.Values).FirstOrDefault(f => f.Lfs && f.Sha256 == sha256);
        if (file is null) { context.Response.StatusCode = 404; return; }
        byte[] bytes = file.Served ?? file.Bytes;
        long from = 0;
        if (context.Request.Headers.Range.ToString() is { Length: > 0 } range)
        {
            from = long.Parse(range["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
            context.Response.StatusCode = 206;
            context.Response.Headers.ContentRange = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
        }
        context.Response.ContentLength = bytes.Length - from;
        if (file.DropHalfwayOnce)
        {
            file.DropHalfwayOnce = false;
            await context.Response.Body.WriteAsync(bytes.AsMemory((int)from, (bytes.Length - (int)from) / 2));
            await context.Response.Body.FlushAsync();
            context.Abort();
            return;
        }
        await context.Response.Body.WriteAsync(bytes.AsMemory((int)from));
    }

    private static void Refuse(HttpResponse response, int status, string code)
    {
        response.StatusCode = status;
        response.Headers["X-Error-Code"] = code;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
