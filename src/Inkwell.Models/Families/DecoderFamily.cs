using Inkwell.Models.Gguf;

namespace Inkwell.Models.Families;

/// <summary>
/// One model family: its names in GGUF (general.architecture) and Hugging Face (model_type), how its own
/// hyper-parameters map onto <see cref="ModelConfig"/> beyond the shape every decoder shares, and the few tensor
/// conventions the generic loaders cannot infer from the files. Each family is one file in this folder; the forward
/// pass is shared (Decoder/DecoderModel).
/// </summary>
public sealed record DecoderFamily
{
    public required string Architecture { get; init; }
    public IReadOnlyList<string> HuggingFaceTypes { get; init; } = [];
    /// <summary>RoPE pairing of its GGUF files (llama.cpp's rope type: NORM = interleaved, NEOX = halves).</summary>
    public RopeStyle GgufRopeStyle { get; init; } = RopeStyle.HalfSplit;
    /// <summary>The family's GGUF metadata applied to the common config.</summary>
    public Func<GgufMetadata, ModelConfig, ModelConfig> FromGguf { get; init; } = (_, c) => c;
    /// <summary>The family's config.json keys applied to the common config; null = no Hugging Face form.</summary>
    public Func<HuggingFaceConfig, ModelConfig, ModelConfig>? FromHuggingFace { get; init; }
    /// <summary>
    /// Whether the feed-forward projections' per-tensor ".scale" tensors apply (llama.cpp loads them for every
    /// family but only some graphs use them); attention projections always use theirs.
    /// </summary>
    public bool FeedForwardScales { get; init; }
    /// <summary>Hugging Face stores RMS norm weights as w in x·(1 + w) (Gemma); GGUF stores 1 + w.</summary>
    public bool HuggingFaceNormPlusOne { get; init; }
}

/// <summary>GGUF metadata under the architecture's prefix ("gemma2.attention.sliding_window" as "attention.sliding_window").</summary>
public sealed class GgufMetadata(GgufFile file, string architecture)
{
    public GgufFile File { get; } = file;
    public string Architecture { get; } = architecture;

    public bool Has(string key) => File.Metadata.ContainsKey($"{Architecture}.{key}");
    public float Float(string key, float fallback) => File.GetOrDefault($"{Architecture}.{key}", fallback);
    public int Int(string key, int fallback) => File.GetOrDefault($"{Architecture}.{key}", fallback);
    public bool Bool(string key, bool fallback) =>
        File.Metadata.TryGetValue($"{Architecture}.{key}", out var v) && v is bool b ? b : fallback;

    /// <summary>
    /// Which layers slide, from "attention.sliding_window_pattern": a per-layer array, or a period n (layer l
    /// slides when l % n &lt; n - 1), as llama.cpp's set_swa_pattern reads it; <paramref name="period"/> when absent.
    /// </summary>
    public bool[] SlidingPattern(int layers, int period)
    {
        string key = $"{Architecture}.attention.sliding_window_pattern";
        if (File.Metadata.TryGetValue(key, out var v))
        {
            bool[]? perLayer = v switch
            {
                uint[] u => u.Select(x => x != 0).ToArray(),
                int[] i => i.Select(x => x != 0).ToArray(),
                object[] o when o.All(e => e is bool) => o.Cast<bool>().ToArray(),
                _ => null,
            };
            if (perLayer is not null)
            {
                if (perLayer.Length < layers) throw GgufFile.Bad(File.Path, $"'{key}' has {perLayer.Length} entries for {layers} layers");
                return perLayer[..layers];
            }
            period = File.Get<int>(key);
        }
        return Enumerable.Range(0, layers).Select(l => period == 0 || l % period < period - 1).ToArray();
    }

    /// <summary>A small f32 vector tensor (norm weights, RoPE factors), or null when absent.</summary>
    public float[]? Vector(string name, int length) => File.HasTensor(name) ? Loading.GgufDecoderLoader.Vector(File, name, length) : null;
}
