using System.Security.Cryptography;
using System.Text;
using Inkwell.Models.Hub;
using Inkwell.Models.Loading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Hub;

/// <summary>
/// Downloads from a loopback Hub into a temporary cache and checks the result against huggingface_hub's documented
/// cache layout (https://huggingface.co/docs/huggingface_hub/guides/manage-cache): blobs named by ETag (the LFS
/// SHA-256, or the git blob id of a small file), snapshots/&lt;commit&gt;/&lt;file&gt; as relative symlinks into ../../blobs,
/// refs/main holding the commit without a newline.
/// </summary>
public sealed class HubDownloadTests : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("inkwell-hub-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static FakeFile Json(string text) => new(Encoding.UTF8.GetBytes(text), lfs: false);

    private static FakeRepo SafetensorsRepo(string id, FakeFile? weights = null, string? token = null) => new(id, new Dictionary<string, FakeFile>
    {
        ["model.safetensors"] = weights ?? new FakeFile(Random(300_000, 1), lfs: true),
        ["config.json"] = Json("""{"model_type": "llama"}"""),
        ["tokenizer.json"] = Json("""{"model": {}}"""),
        ["README.md"] = Json("# a model card, not needed to run it"),
        ["sub/notes/extra.txt"] = Json("nested"),
    }) { Token = token };

    private HubModelResolver Resolver(FakeHub hub, string? token = null, bool offline = false, Action<string>? convert = null) =>
        new(new HubSettings { Endpoint = hub.Endpoint, CacheDirectory = _cache, Token = token, Offline = offline, RetryDelay = TimeSpan.Zero })
        { ConvertBinToSafeTensors = convert };

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public async Task Download_LeavesHuggingFaceHubCacheLayout()
    {
        var repo = SafetensorsRepo("org/tiny");
        await using var hub = new FakeHub(repo);
        using var resolver = Resolver(hub);

        string path = resolver.Resolve("org/tiny");

        string repoFolder = Path.Combine(_cache, "models--org--tiny");
        string snapshot = Path.Combine(repoFolder, "snapshots", repo.Commit);
        Assert.Equal(snapshot, path);
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(repoFolder, "refs", "main")));
        foreach (var name in new[] { "model.safetensors", "config.json", "tokenizer.json" })
        {
            var file = repo.Files[name];
            var link = new FileInfo(Path.Combine(snapshot, name));
            Assert.Equal("../../blobs/" + file.Etag, link.LinkTarget);
            Assert.Equal(file.Bytes, File.ReadAllBytes(Path.Combine(repoFolder, "blobs", file.Etag)));
            Assert.Equal(file.Bytes, File.ReadAllBytes(link.FullName));
        }
        Assert.Equal(64, repo.Files["model.safetensors"].Etag.Length); // LFS: named by SHA-256
        Assert.Equal(40, repo.Files["config.json"].Etag.Length);       // plain git file: named by its blob id
        Assert.Equal(["config.json", "model.safetensors", "tokenizer.json"], Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(Directory.GetFiles(Path.Combine(repoFolder, "blobs"), "*.incomplete"));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(repoFolder, "blobs")).Length);
        foreach (var file in repo.Files.Where(f => f.Key is "model.safetensors" or "config.json" or "tokenizer.json").Select(f => f.Value))
            Assert.True(File.Exists(Path.Combine(_cache, ".locks", "models--org--tiny", file.Etag + ".lock")));
        Assert.StartsWith("Signature: 8a477f597d28d172789f06886806bc55\n", File.ReadAllText(Path.Combine(_cache, "CACHEDIR.TAG")));
    }

    [Fact]
    public void FakeHubEtags_AreGitsAndLfsIds()
    {
        // `printf 'hello\n' | git hash-object --stdin` and `printf 'hello\n' | sha256sum`
        var file = new FakeFile(Encoding.ASCII.GetBytes("hello\n"), lfs: false);
        Assert.Equal("ce013625030ba8dba906f756967f9e9ca394464a", file.GitBlobId);
        Assert.Equal("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", file.Sha256);
    }

    [Fact]
    public async Task Include_FetchesNestedFiles_WithDeeperRelativeLinks()
    {
        var repo = SafetensorsRepo("org/tiny");
        await using var hub = new FakeHub(repo);
        using var resolver = Resolver(hub);

        var snapshot = await resolver.DownloadAsync(new HubModelId("org/tiny", "main", null), null, ["sub/*"], CancellationToken.None);

        Assert.Equal(["sub/notes/extra.txt"], snapshot.Files);
        var link = new FileInfo(Path.Combine(snapshot.Folder, "sub", "notes", "extra.txt"));
        Assert.Equal("../../../../blobs/" + repo.Files["sub/notes/extra.txt"].Etag, link.LinkTarget);
        Assert.Equal("nested", File.ReadAllText(link.FullName));
    }

    [Fact]
    public async Task CachedModel_IsUsedWithoutAskingTheHub()
    {
        await using var hub = new FakeHub(SafetensorsRepo("org/tiny"));
        using var resolver = Resolver(hub);
        string first = resolver.Resolve("org/tiny");
        int requests = hub.Requests.Count;

        Assert.Equal(first, resolver.Resolve("org/tiny"));
        Assert.Equal(requests, hub.Requests.Count);
    }

    [Fact]
    public async Task Offline_UsesTheCache_AndNamesWhatIsMissing()
    {
        var repo = SafetensorsRepo("org/tiny");
        await using (var hub = new FakeHub(repo))
        using (var online = Resolver(hub))
            online.Resolve("org/tiny");

        using var offline = new HubModelResolver(new HubSettings { Endpoint = new Uri("http://127.0.0.1:9"), CacheDirectory = _cache, Offline = true });
        Assert.Equal(Path.Combine(_cache, "models--org--tiny", "snapshots", repo.Commit), offline.Resolve("org/tiny"));

        var absent = Assert.Throws<HubException>(() => offline.Resolve("org/absent"));
        Assert.Contains("HF_HUB_OFFLINE", absent.Message);
        Assert.Contains("models--org--absent", absent.Message);
        var otherRevision = Assert.Throws<HubException>(() => offline.Resolve("org/tiny@v2"));
        Assert.Contains("no refs/v2", otherRevision.Message);

        File.Delete(Path.Combine(_cache, "models--org--tiny", "blobs", repo.Files["model.safetensors"].Etag));
        var partial = Assert.Throws<HubException>(() => offline.Resolve("org/tiny"));
        Assert.Contains("no top-level", partial.Message); // the dangling link does not count as the weights
    }

    [Fact]
    public async Task DroppedConnection_ResumesWithRange()
    {
        var weights = new FakeFile(Random(3_000_000, 2), lfs: true) { DropHalfwayOnce = true };
        await using var hub = new FakeHub(SafetensorsRepo("org/big", weights));
        using var resolver = Resolver(hub);

        string snapshot = resolver.Resolve("org/big");

        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));
        var cdn = hub.Requests.Where(r => r.StartsWith("GET /cdn/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, cdn.Count);
        Assert.DoesNotContain("bytes=", cdn[0]);
        long resumedFrom = long.Parse(cdn[1][(cdn[1].IndexOf("bytes=", StringComparison.Ordinal) + 6)..].TrimEnd('-'));
        Assert.InRange(resumedFrom, 1, weights.Bytes.Length / 2);
    }

    [Fact]
    public async Task ConcurrentDownloadsOfOneBlob_FetchItOnce()
    {
        var weights = new FakeFile(Random(2_000_000, 9), lfs: true);
        await using var hub = new FakeHub(SafetensorsRepo("org/tiny", weights));

        var paths = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() =>
        {
            using var resolver = Resolver(hub);
            return resolver.Resolve("org/tiny");
        })));

        Assert.All(paths, p => Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(p, "model.safetensors"))));
        Assert.Single(hub.Requests, r => r.StartsWith("GET /cdn/", StringComparison.Ordinal)); // the .lock made the others wait
    }

    [Fact]
    public async Task IncompleteBlobFromAnEarlierRun_IsResumed()
    {
        var weights = new FakeFile(Random(500_000, 3), lfs: true);
        await using var hub = new FakeHub(SafetensorsRepo("org/tiny", weights));
        string blobs = Path.Combine(_cache, "models--org--tiny", "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, weights.Sha256 + ".incomplete"), weights.Bytes[..123_456]);
        using var resolver = Resolver(hub);

        string snapshot = resolver.Resolve("org/tiny");

        Assert.Contains(hub.Requests, r => r == $"GET /cdn/{weights.Sha256} bytes=123456-");
        Assert.Equal(weights.Sha256, Sha256Of(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(blobs, weights.Sha256 + ".incomplete")));
    }

    [Fact]
    public async Task BytesNotMatchingTheEtag_AreRejected_AndNothingLooksWhole()
    {
        var genuine = Random(200_000, 4);
        var corrupted = (byte[])genuine.Clone();
        corrupted[100_000] ^= 0xff;
        var weights = new FakeFile(genuine, lfs: true) { Served = corrupted };
        await using var hub = new FakeHub(SafetensorsRepo("org/tiny", weights));
        using var resolver = Resolver(hub);

        var e = Assert.Throws<HubIntegrityException>(() => resolver.Resolve("org/tiny"));

        Assert.Contains("SHA-256", e.Message);
        Assert.Contains(weights.Sha256, e.Message);
        string repoFolder = Path.Combine(_cache, "models--org--tiny");
        Assert.False(File.Exists(Path.Combine(repoFolder, "blobs", weights.Sha256)));
        Assert.False(File.Exists(Path.Combine(repoFolder, "blobs", weights.Sha256 + ".incomplete")));
        Assert.False(File.Exists(Path.Combine(repoFolder, "refs", "main")));
    }

    [Fact]
    public async Task AuthOnlyRepository_NeedsTheToken()
    {
        await using var hub = new FakeHub(SafetensorsRepo("org/private", token: "hf_secret"));

        using (var anonymous = Resolver(hub))
        {
            var e = Assert.Throws<HubException>(() => anonymous.Resolve("org/private"));
            Assert.Contains("401", e.Message);
            Assert.Contains("HF_TOKEN", e.Message);
        }
        using (var wrong = Resolver(hub, token: "hf_other"))
        {
            var e = Assert.Throws<HubException>(() => wrong.Resolve("org/private"));
            Assert.Contains("gated", e.Message);
        }
        using var granted = Resolver(hub, token: "hf_secret");
        Assert.True(File.Exists(Path.Combine(granted.Resolve("org/private"), "config.json")));
    }

    [Fact]
    public async Task UnknownRepositoryAndRevision_SayNotFound()
    {
        await using var hub = new FakeHub(SafetensorsRepo("org/tiny"));
        using var resolver = Resolver(hub);

        Assert.Contains("not found", Assert.Throws<HubException>(() => resolver.Resolve("org/nothing")).Message);
        Assert.Contains("revision 'v9' not found", Assert.Throws<HubException>(() => resolver.Resolve("org/tiny@v9")).Message);
    }

    [Fact]
    public async Task RenamedRepository_FollowsTheRelativeRedirect()
    {
        var repo = SafetensorsRepo("org/new-name");
        await using var hub = new FakeHub(repo);
        hub.Rename("org/old-name", "org/new-name");
        using var resolver = Resolver(hub);

        string snapshot = resolver.Resolve("org/old-name");

        // huggingface_hub files it under the name asked for.
        Assert.Equal(Path.Combine(_cache, "models--org--old-name", "snapshots", repo.Commit), snapshot);
        Assert.Equal(repo.Files["config.json"].Bytes, File.ReadAllBytes(Path.Combine(snapshot, "config.json")));
        Assert.Contains(hub.Requests, r => r.StartsWith("HEAD /org/old-name/resolve/", StringComparison.Ordinal));
        Assert.Contains(hub.Requests, r => r.StartsWith("HEAD /org/new-name/resolve/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BinOnlyRepository_IsDownloaded_ThenHandedToTheConverter()
    {
        var repo = new FakeRepo("org/old", new Dictionary<string, FakeFile>
        {
            ["pytorch_model.bin"] = new(Random(100_000, 5), lfs: true),
            ["training_args.bin"] = new(Random(100, 6), lfs: true),
            ["config.json"] = Json("{}"),
        });
        await using var hub = new FakeHub(repo);
        string snapshot = Path.Combine(_cache, "models--org--old", "snapshots", repo.Commit);

        using (var without = Resolver(hub))
            Assert.Contains("convert-to-safetensors is not available", Assert.Throws<NotSupportedException>(() => without.Resolve("org/old")).Message);
        Assert.Equal(["config.json", "pytorch_model.bin"], Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        string? converted = null;
        using var with = Resolver(hub, convert: folder => converted = folder);
        Assert.Equal(snapshot, with.Resolve("org/old"));
        Assert.Equal(snapshot, converted);
    }

    [Fact]
    public async Task GgufRepository_FetchesTheOneFileTheTagNames_AndItLoadsThroughTheLink()
    {
        var gguf = File.ReadAllBytes(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var repo = new FakeRepo("org/stories-GGUF", new Dictionary<string, FakeFile>
        {
            ["stories-F16.gguf"] = new(Random(1000, 7), lfs: true),
            ["stories-F32.gguf"] = new(gguf, lfs: true),
            ["mmproj-stories-F32.gguf"] = new(Random(1000, 8), lfs: true),
            ["README.md"] = Json("card"),
        });
        await using var hub = new FakeHub(repo);
        using var resolver = Resolver(hub);

        string path = resolver.Resolve("org/stories-GGUF:f32");

        Assert.Equal(Path.Combine(_cache, "models--org--stories-GGUF", "snapshots", repo.Commit, "stories-F32.gguf"), path);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
        Assert.NotNull(new FileInfo(path).LinkTarget);
        using var model = ModelLoader.Load(path);
        Assert.Equal(512, model.Config.VocabSize);
    }
}
