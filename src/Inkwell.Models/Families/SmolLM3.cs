namespace Inkwell.Models.Families;

/// <summary>SmolLM3: the Llama block with every fourth layer (4, 8, ...) attending without RoPE (NoPE).</summary>
internal static class SmolLM3
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "smollm3",
        HuggingFaceTypes = ["smollm3"],
        GgufRopeStyle = RopeStyle.Interleaved,
        FromGguf = (_, c) => c with { NoRopeLayers = EveryNth(c.LayerCount, 4) },
        // config.json's no_rope_layers marks with 1 the layers that do use RoPE.
        FromHuggingFace = (j, c) => c with
        {
            NoRopeLayers = j.Ints("no_rope_layers") is { } useRope
                ? (useRope.Length == c.LayerCount ? useRope.Select(u => u == 0).ToArray() : throw j.Bad($"no_rope_layers has {useRope.Length} entries for {c.LayerCount} layers"))
                : EveryNth(c.LayerCount, j.Int("no_rope_layer_interval", 4)),
        },
    };

    private static bool[] EveryNth(int layers, int n) => Enumerable.Range(0, layers).Select(l => (l + 1) % n == 0).ToArray();
}
