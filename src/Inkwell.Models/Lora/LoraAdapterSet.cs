using Inkwell.Models.Decoder;

namespace Inkwell.Models.Lora;

/// <summary>
/// The adapters a server serves over one base model (TGI's --lora-adapters), in slots 1..n (slot 0 is the base).
/// Attaching gives every adapted <see cref="Linear"/> its pairs by slot; the base weights are never changed, so rows of
/// a batch pick their own adapter (<see cref="SequenceChunk.Adapter"/>).
/// </summary>
public sealed class LoraAdapterSet
{
    private readonly Dictionary<string, LoraAdapter> _byName;

    private LoraAdapterSet(IReadOnlyList<LoraAdapter> adapters)
    {
        Adapters = adapters;
        _byName = adapters.ToDictionary(a => a.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<LoraAdapter> Adapters { get; }
    public IEnumerable<string> Names => Adapters.Select(a => a.Name);

    public LoraAdapter? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// Loads each (name, path) for this model and attaches them to its weights (once per model). Names must be unique
    /// and non-empty; a file that does not fit the model fails here, at startup, not in a request.
    /// </summary>
    public static LoraAdapterSet Attach(ModelConfig config, DecoderWeights weights, IReadOnlyList<(string Name, string Path)> specs)
    {
        if (weights.Adapters is not null) throw new InvalidOperationException("adapters are already attached to this model");
        var adapters = new List<LoraAdapter>(specs.Count);
        foreach (var (name, path) in specs)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"a LoRA adapter at {path} has an empty name");
            if (adapters.Any(a => a.Name == name)) throw new ArgumentException($"LoRA adapter name '{name}' is given twice");
            adapters.Add(LoraAdapterLoader.Load(name, path, config, weights));
        }
        var set = new LoraAdapterSet(adapters);
        for (int i = 0; i < adapters.Count; i++) adapters[i].Slot = i + 1;
        for (int l = 0; l < config.LayerCount; l++)
            foreach (var target in Enum.GetValues<LoraTarget>())
            {
                if (!adapters.Any(a => a.Pair(l, target) is not null)) continue;
                var pairs = new LoraPair?[adapters.Count + 1];
                foreach (var a in adapters) pairs[a.Slot] = a.Pair(l, target);
                LoraAdapterLoader.BaseLinear(weights.Layers[l], target)!.LoraPairs = pairs;
            }
        weights.Adapters = set;
        return set;
    }

    /// <summary>
    /// Parses TGI's --lora-adapters value: comma-separated <c>name=path</c> entries (a bare path is named after its
    /// folder or file, as TGI names an adapter by its id).
    /// </summary>
    public static IReadOnlyList<(string Name, string Path)> ParseSpec(string spec)
    {
        var result = new List<(string, string)>();
        foreach (var raw in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = raw.IndexOf('=');
            string path = eq < 0 ? raw : raw[(eq + 1)..].Trim();
            string name = eq < 0 ? System.IO.Path.GetFileNameWithoutExtension(path.TrimEnd('/', '\\')) : raw[..eq].Trim();
            if (name.Length == 0 || path.Length == 0) throw new ArgumentException($"--lora-adapters: '{raw}' is not name=path");
            result.Add((name, path));
        }
        if (result.Count == 0) throw new ArgumentException("--lora-adapters: no adapters given (expected name=path,...)");
        return result;
    }
}
