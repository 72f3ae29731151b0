using System.Collections.Concurrent;
using System.Text;
using Inkwell.Models.SafeTensors;
using Inkwell.Runtime.Kernels;

namespace Inkwell.Server.PromptTuning;

/// <summary>A soft prompt: [VirtualTokens, dim] input embeddings, and the salt that keeps its prefix-cache blocks apart.</summary>
public sealed record PromptPrefix(string Id, float[] Embeddings, int VirtualTokens, ulong Salt);

/// <summary>A prefix_id that cannot be served; the message follows TGIS ("can't retrieve prompt prefix with id ...").</summary>
public sealed class PromptPrefixException(string prefixId, string reason)
    : Exception($"can't retrieve prompt prefix with id '{prefixId}': {reason}");

/// <summary>
/// TGIS prompt tuning: prefix_id names DIR/&lt;prefix_id&gt;.safetensors holding one tensor [n_virtual_tokens, hidden]
/// (F32, F16 or BF16). Loaded on first use, converted to f32 and cached; failures are not cached, so a file
/// dropped in later works.
/// </summary>
public sealed class PromptPrefixStore(string? directory, int hiddenSize)
{
    private readonly ConcurrentDictionary<string, Lazy<PromptPrefix>> _cache = new(StringComparer.Ordinal);

    public string? Directory { get; } = directory is null ? null : Path.GetFullPath(directory);

    public PromptPrefix Get(string prefixId)
    {
        var lazy = _cache.GetOrAdd(prefixId, id => new Lazy<PromptPrefix>(() => TimedLoad(id)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _cache.TryRemove(new KeyValuePair<string, Lazy<PromptPrefix>>(prefixId, lazy));
            throw;
        }
    }

    /// <summary>Hears how long each successful load from a file took (tgi_prompt_load_duration); cache hits are not loads.</summary>
    public Action<TimeSpan>? Loaded { get; init; }

    private PromptPrefix TimedLoad(string id)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var prefix = Load(id);
        Loaded?.Invoke(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        return prefix;
    }

    private PromptPrefix Load(string id)
    {
        if (Directory is null) throw new PromptPrefixException(id, "prompt tuning is not enabled (start the server with --prompt-prefix-dir)");
        // The id becomes a file name: refuse anything that could leave the directory or name something odd.
        if (id.Length == 0 || id.Length > 200 || id is "." or ".."
            || id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) || id.StartsWith('.'))
        {
            throw new PromptPrefixException(id, "invalid prefix id (allowed: letters, digits, '-', '_', '.'; not starting with '.')");
        }
        string path = Path.Combine(Directory, id + ".safetensors");
        if (!File.Exists(path)) throw new PromptPrefixException(id, "not found");

        try
        {
            using var file = SafeTensorsFile.Open(path);
            if (file.Tensors.Count != 1)
                throw new PromptPrefixException(id, $"expected exactly one tensor [n_virtual_tokens, {hiddenSize}], found {file.Tensors.Count}");
            var tensor = file.Tensors.Values.Single();
            if (tensor.Shape.Length != 2 || tensor.Shape[1] != hiddenSize || tensor.Shape[0] < 1 || tensor.Shape[0] > 100_000)
                throw new PromptPrefixException(id, $"tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}], expected [n_virtual_tokens, {hiddenSize}] (the model's hidden size)");
            int rows = (int)tensor.Shape[0];
            var matrix = file.Matrix(tensor.Name, rows, hiddenSize);
            var embeddings = new float[rows * hiddenSize];
            for (int r = 0; r < rows; r++) MatMul.DequantizeRow(matrix, r, embeddings.AsSpan(r * hiddenSize, hiddenSize));
            if (!embeddings.All(float.IsFinite)) throw new PromptPrefixException(id, "the tensor holds NaN or infinite values");
            return new PromptPrefix(id, embeddings, rows, Salt(id));
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            // The reader's messages name the file by its full path; clients see only the id's file name.
            throw new PromptPrefixException(id, e.Message.Replace(path, Path.GetFileName(path), StringComparison.Ordinal).Replace(Directory, "(prefix directory)", StringComparison.Ordinal));
        }
    }

    /// <summary>Nonzero (0 is "no soft prompt") and stable across restarts, so equal ids share cached blocks.</summary>
    private static ulong Salt(string id)
    {
        ulong hash = 14695981039346656037UL; // FNV-1a 64
        foreach (byte b in Encoding.UTF8.GetBytes("inkwell-prefix:" + id)) hash = (hash ^ b) * 1099511628211UL;
        return hash | 1UL;
    }
}
