using System.Text.Json;
using System.Text.RegularExpressions;

namespace Inkwell.Models.Hub;

public enum WeightFormat { SafeTensors, PyTorchBin, Gguf }

/// <summary>The files of a repository a model needs, and which of them is the model to open.</summary>
/// <param name="Files">Everything to fetch (weights first).</param>
/// <param name="Format">The weights' format.</param>
/// <param name="ModelFile">For GGUF, the one file to open; otherwise null (the snapshot folder is opened).</param>
public sealed record HubFileSelection(IReadOnlyList<string> Files, WeightFormat Format, string? ModelFile)
{
    /// <summary>Configuration and tokenizer files fetched beside safetensors or .bin weights, when the repository has them.</summary>
    public static readonly IReadOnlySet<string> CompanionFiles = new HashSet<string>(StringComparer.Ordinal)
    {
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "tokenizer.model", "added_tokens.json", "vocab.json", "merges.txt", "chat_template.json", "chat_template.jinja",
    };

    /// <summary>Llama.cpp's choice when no quantization tag is given: these tags in this order, then the first model file.</summary>
    private static readonly string[] DefaultQuantTags = ["Q4_K_M", "Q8_0"];

    /// <summary>
    /// Chooses as TGI's download-weights does: top-level .safetensors if any, else top-level .bin (TGI's filter: no
    /// "arguments", "args" or "training" in the name), with their index and the companion files; a repository with
    /// only GGUF files, a <paramref name="quantTag"/> or <paramref name="extension"/> ".gguf" selects one GGUF file
    /// by llama.cpp's `-hf` rule. <paramref name="extension"/> forces a format.
    /// </summary>
    public static HubFileSelection Choose(string repository, IReadOnlyList<string> files, string? extension, string? quantTag)
    {
        bool Eligible(string f, string ext) => f.EndsWith(ext, StringComparison.Ordinal) && !f.Contains('/')
            && !f.Contains("arguments", StringComparison.Ordinal) && !f.Contains("args", StringComparison.Ordinal) && !f.Contains("training", StringComparison.Ordinal);
        var safetensors = files.Where(f => Eligible(f, ".safetensors")).ToList();
        var bins = files.Where(f => Eligible(f, ".bin")).ToList();
        bool hasGguf = files.Any(f => f.EndsWith(".gguf", StringComparison.Ordinal));
        var format = extension switch
        {
            null when quantTag is not null => WeightFormat.Gguf,
            null => safetensors.Count > 0 ? WeightFormat.SafeTensors : bins.Count > 0 ? WeightFormat.PyTorchBin : hasGguf ? WeightFormat.Gguf
                : throw new HubException($"{repository} has no weights Inkwell can load (no top-level .safetensors or .bin, no .gguf); its files: {Listing(files)}"),
            ".safetensors" => WeightFormat.SafeTensors,
            ".bin" => WeightFormat.PyTorchBin,
            ".gguf" => WeightFormat.Gguf,
            _ => throw new ArgumentException($"--extension {extension}: expected .safetensors, .gguf or .bin"),
        };
        if (quantTag is not null && format != WeightFormat.Gguf)
            throw new ArgumentException($"{repository}:{quantTag}: a quantization tag selects among GGUF files, but --extension asks for {extension}");
        if (format == WeightFormat.Gguf)
        {
            string file = ChooseGguf(repository, files, quantTag);
            return new HubFileSelection([file], WeightFormat.Gguf, file);
        }
        var (weights, index) = format == WeightFormat.SafeTensors
            ? (safetensors, "model.safetensors.index.json") : (bins, "pytorch_model.bin.index.json");
        if (weights.Count == 0)
            throw new HubException($"{repository} has no top-level {extension} weights; its files: {Listing(files)}");
        var chosen = weights.Concat(files.Where(f => f == index || CompanionFiles.Contains(f))).ToList();
        return new HubFileSelection(chosen, format, null);
    }

    /// <summary>huggingface-cli's --include: every file matching one of the globs (fnmatch: `*` crosses '/').</summary>
    public static IReadOnlyList<string> Matching(string repository, IReadOnlyList<string> files, IReadOnlyList<string> globs)
    {
        var patterns = globs.Select(g => new Regex("^" + Regex.Escape(g.EndsWith('/') ? g + "*" : g)
            .Replace(@"\*", ".*").Replace(@"\?", ".").Replace(@"\[", "[") + "$", RegexOptions.CultureInvariant)).ToList();
        var matched = files.Where(f => patterns.Any(p => p.IsMatch(f))).ToList();
        return matched.Count > 0 ? matched
            : throw new HubException($"{repository}: no file matches --include {string.Join(" ", globs)}; its files: {Listing(files)}");
    }

    /// <summary>Shards a safetensors or .bin index names that <paramref name="present"/> lacks (a partial snapshot).</summary>
    public IReadOnlyList<string> MissingFrom(string snapshotFolder, IReadOnlyCollection<string> present)
    {
        var missing = Files.Where(f => !present.Contains(f)).ToList();
        foreach (var index in Files.Where(f => f.EndsWith(".index.json", StringComparison.Ordinal) && present.Contains(f)))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(snapshotFolder, index)));
            if (doc.RootElement.TryGetProperty("weight_map", out var map) && map.ValueKind == JsonValueKind.Object)
                missing.AddRange(map.EnumerateObject().Select(p => p.Value.GetString()).OfType<string>().Distinct().Where(s => !present.Contains(s)));
        }
        return missing;
    }

    /// <summary>
    /// llama.cpp's find_best_model (common/download.cpp): among model GGUF files (not mmproj, imatrix, mtp-, eagle3-,
    /// dflash-, dspark- sidecars) and, for split files, only part 1, the first whose path contains the tag followed by
    /// '.' or '-' (case-insensitive); without a tag Q4_K_M, then Q8_0, then the first model file.
    /// </summary>
    public static string ChooseGguf(string repository, IReadOnlyList<string> files, string? quantTag)
    {
        var models = files.Where(IsGgufModel).Where(f => SplitOf(f) is not { Index: > 1 }).ToList();
        foreach (var tag in quantTag is null ? DefaultQuantTags : [quantTag])
        {
            var pattern = new Regex(Regex.Escape(tag) + "[.-]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            if (models.FirstOrDefault(pattern.IsMatch) is { } match) return Whole(match);
        }
        if (quantTag is null && models.Count > 0) return Whole(models[0]);
        var available = files.Where(f => f.EndsWith(".gguf", StringComparison.Ordinal)).ToList();
        throw new HubException(quantTag is null || available.Count == 0
            ? $"{repository} has no GGUF model file; its files: {Listing(files)}"
            : $"{repository} has no GGUF file tagged {quantTag}; available: {Listing(available)}");

        string Whole(string file) => SplitOf(file) is { Count: > 1 } split
            ? throw new NotSupportedException($"{repository}/{file} is part 1 of {split.Count}: split GGUF files are not supported; merge them with llama-gguf-split --merge")
            : file;
    }

    private static bool IsGgufModel(string path)
    {
        if (!path.EndsWith(".gguf", StringComparison.Ordinal)) return false;
        string name = path[(path.LastIndexOf('/') + 1)..];
        return !new[] { "mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-" }.Any(k => name.Contains(k, StringComparison.Ordinal));
    }

    private static (int Index, int Count)? SplitOf(string path)
    {
        var m = Regex.Match(path[..^".gguf".Length], "^(.+)-([0-9]{5})-of-([0-9]{5})$", RegexOptions.IgnoreCase);
        return m.Success ? (int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value)) : null;
    }

    private static string Listing(IReadOnlyList<string> files) =>
        files.Count == 0 ? "(none)" : string.Join(", ", files.Take(20)) + (files.Count > 20 ? $", ... ({files.Count} in all)" : "");
}
