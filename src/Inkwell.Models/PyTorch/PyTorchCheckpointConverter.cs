using System.Text.Json;
using System.Text.Json.Nodes;

namespace Inkwell.Models.PyTorch;

/// <summary>
/// `convert-to-safetensors`: a model directory's PyTorch weights (pytorch_model.bin, or the shards named by
/// pytorch_model.bin.index.json) written as safetensors beside them, named as transformers and TGIS name them
/// (pytorch_model-00001-of-00002.bin becomes model-00001-of-00002.safetensors) with model.safetensors.index.json
/// for shards. Views are written contiguous (strides and storage offsets applied); a tensor that is the same view
/// of the same storage as an earlier one (tied weights such as lm_head and the embedding) is dropped, keeping the
/// first in state-dict order, as transformers' save_pretrained drops tied keys.
/// </summary>
public static class PyTorchCheckpointConverter
{
    private const string PyTorchIndex = "pytorch_model.bin.index.json";
    private const string SafeTensorsIndex = "model.safetensors.index.json";

    /// <summary>True when the directory has PyTorch weights and no safetensors yet (what TGIS converts on start).</summary>
    public static bool NeedsConversion(string directory) =>
        Directory.Exists(directory) && Directory.GetFiles(directory, "*.safetensors").Length == 0 && PyTorchFiles(directory, throwIfNone: false).Count > 0;

    /// <summary>Converts every PyTorch weight file of <paramref name="directory"/>; returns the paths written.</summary>
    public static IReadOnlyList<string> ConvertDirectory(string directory, Action<string>? log = null)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: directory not found");
        var inputs = PyTorchFiles(directory, throwIfNone: true);
        var written = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        foreach (var input in inputs)
        {
            string output = Path.Combine(directory, SafeTensorsName(Path.GetFileName(input)));
            if (File.Exists(output)) throw new IOException($"{output} already exists; remove it to convert again");
            var result = ConvertFile(input, output);
            foreach (var name in result.Written) weightMap[name] = Path.GetFileName(output);
            totalSize += result.Bytes;
            written.Add(output);
            log?.Invoke($"{Path.GetFileName(input)} -> {Path.GetFileName(output)}: {result.Written.Count} tensors" +
                (result.Dropped.Count > 0 ? $" ({string.Join(", ", result.Dropped.Select(d => $"{d.Name} tied to {d.SameAs}"))} not repeated)" : ""));
        }
        if (inputs.Count > 1 || File.Exists(Path.Combine(directory, PyTorchIndex)))
        {
            var index = new JsonObject
            {
                ["metadata"] = new JsonObject { ["total_size"] = totalSize },
                ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            };
            string indexPath = Path.Combine(directory, SafeTensorsIndex);
            File.WriteAllText(indexPath, index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            written.Add(indexPath);
        }
        return written;
    }

    public sealed record ConversionResult(IReadOnlyList<string> Written, IReadOnlyList<(string Name, string SameAs)> Dropped, long Bytes);

    /// <summary>One .bin to one .safetensors.</summary>
    public static ConversionResult ConvertFile(string binPath, string safetensorsPath)
    {
        using var checkpoint = TorchCheckpoint.Open(binPath);
        var firstByView = new Dictionary<string, string>(StringComparer.Ordinal);
        var kept = new List<KeyValuePair<string, TensorReference>>();
        var dropped = new List<(string, string)>();
        foreach (var (name, tensor) in checkpoint.Tensors)
        {
            string view = $"{tensor.Storage.Key}|{tensor.StorageOffset}|{string.Join(',', tensor.Shape)}|{string.Join(',', tensor.Strides)}";
            if (firstByView.TryAdd(view, name)) kept.Add(new(name, tensor));
            else dropped.Add((name, firstByView[view]));
        }
        var lastUse = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in kept) lastUse[tensor.Storage.Key] = name;

        var writer = new SafeTensorsWriter();
        foreach (var (name, tensor) in kept)
        {
            CheckBounds(binPath, name, tensor);
            int elementBytes = TorchDTypes.ElementBytes(tensor.Storage.DType);
            long elements = tensor.Shape.Aggregate(1L, (a, b) => a * b);
            bool lastView = lastUse[tensor.Storage.Key] == name;
            writer.Add(name, TorchDTypes.SafeTensorsName(tensor.Storage.DType), tensor.Shape, elements * elementBytes, stream =>
            {
                StridedCopy.Write(checkpoint.StorageBytes(tensor.Storage), tensor, elementBytes, stream);
                if (lastView) checkpoint.Release(tensor.Storage);
            });
        }
        writer.Write(safetensorsPath);
        return new ConversionResult(kept.Select(k => k.Key).ToList(), dropped, writer.TotalBytes);
    }

    /// <summary>The name transformers gives the safetensors twin of a PyTorch weight file.</summary>
    public static string SafeTensorsName(string binFileName)
    {
        string stem = Path.GetFileNameWithoutExtension(binFileName);
        if (stem.StartsWith("pytorch_model", StringComparison.Ordinal)) stem = "model" + stem["pytorch_model".Length..];
        return stem + ".safetensors";
    }

    private static List<string> PyTorchFiles(string directory, bool throwIfNone)
    {
        string index = Path.Combine(directory, PyTorchIndex);
        if (File.Exists(index))
        {
            JsonNode? map;
            try { map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"]; }
            catch (JsonException e) { throw new InvalidDataException($"{index}: not valid JSON ({e.Message})"); }
            if (map is not JsonObject weights) throw new InvalidDataException($"{index}: no weight_map object");
            var files = weights.Select(kv => kv.Value?.GetValue<string>() ?? throw new InvalidDataException($"{index}: '{kv.Key}' maps to no file"))
                .Distinct().Order(StringComparer.Ordinal).Select(f => Path.Combine(directory, f)).ToList();
            foreach (var f in files)
                if (!File.Exists(f)) throw new FileNotFoundException($"{index} names {Path.GetFileName(f)}, which is missing", f);
            return files;
        }
        var found = Directory.GetFiles(directory, "pytorch_model*.bin").Order(StringComparer.Ordinal).ToList();
        if (found.Count == 0 && throwIfNone)
            throw new FileNotFoundException($"{directory}: no PyTorch weights (pytorch_model.bin, or shards listed in {PyTorchIndex})");
        return found;
    }

    private static void CheckBounds(string path, string name, TensorReference t)
    {
        if (t.Shape.Any(d => d == 0)) return;
        long last = t.StorageOffset;
        for (int i = 0; i < t.Shape.Length; i++) last += (t.Shape[i] - 1) * t.Strides[i];
        if (t.StorageOffset < 0 || last >= t.Storage.ElementCount)
            throw new InvalidDataException($"{path}: tensor '{name}' reaches element {last} of a storage of {t.Storage.ElementCount}");
    }
}
