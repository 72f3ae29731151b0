using System.Security.Cryptography;
using Inkwell.TestSupport;

namespace Inkwell.Cli.Tests;

/// <summary>
/// Models named by Hub id, through the real program. The cache is laid out by hand as huggingface_hub documents it
/// (https://huggingface.co/docs/huggingface_hub/guides/manage-cache), as a Python tool would have left it, and
/// every run is offline or pointed at a closed port: nothing here reaches the network.
/// </summary>
public sealed class HubModelTests : IDisposable
{
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";
    private readonly string _cache = Directory.CreateTempSubdirectory("inkwell-cli-hub-").FullName;

    public HubModelTests()
    {
        string repo = Path.Combine(_cache, "models--org--stories260K-GGUF");
        byte[] gguf = File.ReadAllBytes(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        string etag = Convert.ToHexStringLower(SHA256.HashData(gguf));
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        File.WriteAllBytes(Path.Combine(repo, "blobs", etag), gguf);
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        File.WriteAllText(Path.Combine(repo, "refs", "main"), Commit);
        Directory.CreateDirectory(Path.Combine(repo, "snapshots", Commit));
        File.CreateSymbolicLink(SnapshotFile, "../../blobs/" + etag);
    }

    private string SnapshotFile => Path.Combine(_cache, "models--org--stories260K-GGUF", "snapshots", Commit, "stories260K-F32.gguf");

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private Dictionary<string, string?> Environment(bool offline) => new()
    {
        ["HF_HUB_CACHE"] = _cache,
        ["HF_HUB_OFFLINE"] = offline ? "1" : null,
        ["HF_ENDPOINT"] = "http://127.0.0.1:9", // the discard port: closed, so "online" runs fail fast
        ["HF_TOKEN"] = null, ["HUGGING_FACE_HUB_TOKEN"] = null, ["HF_TOKEN_PATH"] = Path.Combine(_cache, "no-token"),
        ["MODEL_ID"] = null, ["MODEL_NAME"] = null, ["REVISION"] = null,
    };

    [Fact]
    public void Generate_runs_a_model_named_by_id_from_the_shared_cache()
    {
        var (code, stdout, stderr) = CliProcess.RunWithEnvironment("", Environment(offline: true),
            "generate", "--model", "org/stories260K-GGUF:F32", "--temperature", "0", "--max-new-tokens", "256", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Equal(RepoPaths.GoldenGreedyText, stdout.TrimEnd('\n'));
    }

    [Fact]
    public void A_cached_model_needs_no_network_even_online()
    {
        var (code, stdout, stderr) = CliProcess.RunWithEnvironment("Once upon a time", Environment(offline: false), "tokenize", "--model", "org/stories260K-GGUF");
        Assert.True(code == 0, stderr);
        Assert.Equal("1 403 407 261 378", stdout.Trim()); // the ids models/stories260K/README gives
    }

    [Fact]
    public void Download_weights_offline_prints_the_cached_file()
    {
        var (code, stdout, stderr) = CliProcess.RunWithEnvironment("", Environment(offline: true), "download-weights", "org/stories260K-GGUF:F32");
        Assert.True(code == 0, stderr);
        Assert.Equal(SnapshotFile, stdout.Trim());
    }

    [Fact]
    public void Download_weights_offline_names_what_is_missing()
    {
        var (code, _, stderr) = CliProcess.RunWithEnvironment("", Environment(offline: true), "download-weights", "org/absent");
        Assert.Equal(1, code);
        Assert.Contains("HF_HUB_OFFLINE", stderr);
        Assert.Contains("models--org--absent", stderr);
    }

    [Fact]
    public void Download_weights_says_when_the_hub_cannot_be_reached()
    {
        var (code, _, stderr) = CliProcess.RunWithEnvironment("", Environment(offline: false), "download-weights", "org/absent", "--revision", "v1");
        Assert.Equal(1, code);
        Assert.Contains("cannot reach http://127.0.0.1:9", stderr);
    }

    [Fact]
    public void Serve_reads_MODEL_NAME_as_TGIS_sets_it()
    {
        var environment = Environment(offline: true);
        environment["MODEL_NAME"] = "org/absent";
        var (code, _, stderr) = CliProcess.RunWithEnvironment("", environment, "serve", "--port", "0");
        Assert.Equal(1, code); // not the embedded demo model, silently
        Assert.Contains("org/absent", stderr);
    }

    [Fact]
    public void Help_shows_usage()
    {
        var (code, stdout, _) = CliProcess.Run("", "download-weights", "--help");
        Assert.Equal(0, code);
        Assert.Contains("usage: inkwell download-weights MODEL_ID", stdout);
        Assert.Contains("HF_HUB_OFFLINE", stdout);
    }
}
