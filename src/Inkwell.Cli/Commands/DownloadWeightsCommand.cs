using Inkwell.Models.Hub;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell download-weights MODEL_ID`: TGI's and TGIS's command. Fetches a model into the Hugging Face cache,
/// as `inkwell serve --model-id MODEL_ID` would on first use, and prints where it is.
/// </summary>
public static class DownloadWeightsCommand
{
    private const string Help = """
        usage: inkwell download-weights MODEL_ID [--revision R] [--extension .safetensors|.gguf|.bin] [--include GLOB]
        Downloads MODEL_ID (org/name[@revision][:QUANT]) into the Hugging Face cache and prints the path to open.
        What is fetched, as TGI does: the .safetensors weights if the repository has them, else the .bin weights
        (then converted to safetensors), with config.json and the tokenizer files; for a GGUF repository one file,
        chosen by :QUANT as llama.cpp's -hf does (default Q4_K_M, then Q8_0). --extension forces a format;
        --include GLOB fetches exactly the files matching GLOB (fnmatch, as huggingface-cli download --include).
        MODEL_ID also comes from MODEL_ID or MODEL_NAME, the revision from REVISION.
        Files download in parallel into blobs/<etag>.incomplete, resume after a dropped connection, are checked
        against the Hub's SHA-256 and only then get their name: an interrupted download never looks whole.
        Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN or HUGGING_FACE_HUB_TOKEN (private and
        gated models), HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / TRANSFORMERS_CACHE / HF_HOME (the cache, default
        ~/.cache/huggingface/hub), HF_HUB_OFFLINE=1 (check the cache only).
        examples:
          inkwell download-weights TinyLlama/TinyLlama-1.1B-Chat-v1.0
          inkwell download-weights Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0
          inkwell serve --model-id TinyLlama/TinyLlama-1.1B-Chat-v1.0
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        string? positional = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : null;
        var a = new ArgReader(positional is null ? args : args[1..], new HashSet<string>());
        string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        string? flagged = a.String("model-id", "model-name");
        if (positional is not null && flagged is not null) throw new UsageException("give MODEL_ID once, not both as argument and --model-id");
        string model = positional ?? flagged ?? Env("MODEL_ID") ?? Env("MODEL_NAME") ?? throw new UsageException("MODEL_ID is missing\n" + Help);
        string? revision = a.String("revision") ?? Env("REVISION");
        string? extension = a.String("extension");
        string? include = a.String("include");
        a.EnsureAllUsed();
        if (File.Exists(model) || Directory.Exists(model)) throw new UsageException($"{model} is a local path: there is nothing to download");
        if (!HubModelId.TryParse(model, revision, out var id))
            throw new UsageException($"{model}: not a Hub model id (org/name[@revision][:QUANT])");

        using var progress = new DownloadProgress();
        using var resolver = HubModelResolver.FromEnvironment(progress);
        var snapshot = await resolver.DownloadAsync(id, extension, include is null ? [] : [include], CancellationToken.None);
        progress.Dispose(); // the bars end before the result line
        Console.Out.WriteLine(snapshot.Selection is null ? snapshot.Folder : resolver.Loadable(snapshot));
        return 0;
    }
}
