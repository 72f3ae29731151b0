using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Lora;

/// <summary>The projections of a decoder block a LoRA adapter can target (PEFT's module names in parentheses).</summary>
public enum LoraTarget
{
    Query,      // q_proj, attn_q
    Key,        // k_proj, attn_k
    Value,      // v_proj, attn_v
    Output,     // o_proj, attn_output
    Gate,       // gate_proj, ffn_gate
    Up,         // up_proj, ffn_up
    Down,       // down_proj, ffn_down
}

/// <summary>One projection's low-rank update: y += Scale · B(A x), with A [rank, in] and B [out, rank] as f32 matrices.</summary>
public sealed class LoraPair(WeightMatrix a, WeightMatrix b, float scale)
{
    public WeightMatrix A { get; } = a;
    public WeightMatrix B { get; } = b;
    public float Scale { get; } = scale;
    public int Rank => A.Rows;
}

/// <summary>
/// A loaded LoRA adapter: its name (what requests select it by), where it came from, and a pair per (layer, target)
/// it adapts. The KV cache salt keeps its prefix-cache entries apart from the base model's and other adapters'.
/// </summary>
public sealed class LoraAdapter
{
    private readonly LoraPair?[,] _pairs;

    public LoraAdapter(string name, string path, string format, int rank, float alpha, LoraPair?[,] pairs)
    {
        Name = name;
        Path = path;
        Format = format;
        Rank = rank;
        Alpha = alpha;
        _pairs = pairs;
        CacheSalt = SaltOf(name);
    }

    public string Name { get; }
    public string Path { get; }
    /// <summary>"peft" or "gguf".</summary>
    public string Format { get; }
    public int Rank { get; }
    public float Alpha { get; }
    public ulong CacheSalt { get; }
    /// <summary>Its index among the server's adapters, 1-based (0 is the base model); set when attached.</summary>
    public int Slot { get; internal set; }
    public int LayerCount => _pairs.GetLength(0);

    public LoraPair? Pair(int layer, LoraTarget target) => _pairs[layer, (int)target];

    /// <summary>The targets it adapts in at least one layer.</summary>
    public IReadOnlyList<LoraTarget> Targets =>
        [.. Enum.GetValues<LoraTarget>().Where(t => Enumerable.Range(0, LayerCount).Any(l => _pairs[l, (int)t] is not null))];

    /// <summary>FNV-1a over "lora:" and the name: never 0, so an adapter's prefixes never collide with the base model's.</summary>
    private static ulong SaltOf(string name)
    {
        ulong h = 0xcbf29ce484222325UL;
        foreach (char ch in "lora:" + name)
        {
            h ^= ch;
            h *= 0x100000001b3UL;
        }
        return h == 0 ? 1 : h;
    }
}
