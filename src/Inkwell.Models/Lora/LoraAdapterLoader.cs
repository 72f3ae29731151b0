using System.Text.Json;
using System.Text.RegularExpressions;
using Inkwell.Models.Decoder;
using Inkwell.Models.Families;
using Inkwell.Models.Gguf;
using Inkwell.Models.SafeTensors;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Lora;

/// <summary>
/// Reads a LoRA adapter for a loaded base model: a PEFT directory (adapter_config.json + adapter_model.safetensors)
/// or a GGUF adapter as llama.cpp's convert_lora_to_gguf.py writes it. Every pair is checked against the base
/// projection it adapts and copied to f32 (adapters are small), so the files are closed on return.
/// Scale: alpha / r, or alpha / sqrt(r) with rsLoRA (PEFT's use_rslora); GGUF: alpha / r, or 1 without alpha
/// (llama.cpp's rule). Problems are one <see cref="InvalidDataException"/> naming the adapter and the file.
/// </summary>
public static partial class LoraAdapterLoader
{
    private static readonly Dictionary<string, LoraTarget> PeftModules = new()
    {
        ["q_proj"] = LoraTarget.Query, ["k_proj"] = LoraTarget.Key, ["v_proj"] = LoraTarget.Value, ["o_proj"] = LoraTarget.Output,
        ["gate_proj"] = LoraTarget.Gate, ["up_proj"] = LoraTarget.Up, ["down_proj"] = LoraTarget.Down,
    };

    private static readonly Dictionary<string, LoraTarget> GgufModules = new()
    {
        ["attn_q"] = LoraTarget.Query, ["attn_k"] = LoraTarget.Key, ["attn_v"] = LoraTarget.Value, ["attn_output"] = LoraTarget.Output,
        ["ffn_gate"] = LoraTarget.Gate, ["ffn_up"] = LoraTarget.Up, ["ffn_down"] = LoraTarget.Down,
    };

    public static LoraAdapter Load(string name, string path, ModelConfig config, DecoderWeights weights)
    {
        if (Directory.Exists(path)) return LoadPeft(name, path, config, weights);
        if (!File.Exists(path)) throw new FileNotFoundException($"LoRA adapter '{name}': {path} not found (a PEFT directory or a GGUF adapter file)", path);
        if (!GgufFile.LooksLikeGguf(path))
            throw new InvalidDataException($"LoRA adapter '{name}': {path} is neither a PEFT directory nor a GGUF file");
        return LoadGguf(name, path, config, weights);
    }

    private static LoraAdapter LoadPeft(string name, string dir, ModelConfig config, DecoderWeights weights)
    {
        string configPath = System.IO.Path.Combine(dir, "adapter_config.json");
        string tensorsPath = System.IO.Path.Combine(dir, "adapter_model.safetensors");
        if (!File.Exists(configPath)) throw Bad(name, dir, "adapter_config.json is missing (not a PEFT adapter directory)");
        if (!File.Exists(tensorsPath)) throw Bad(name, dir, "adapter_model.safetensors is missing (adapter_model.bin is not supported: convert it to safetensors)");
        var peft = ReadPeftConfig(name, configPath);
        float scale = peft.UseRsLora ? peft.Alpha / MathF.Sqrt(peft.Rank) : peft.Alpha / peft.Rank;

        using var file = OpenSafeTensors(name, tensorsPath);
        var halves = new Dictionary<(int Layer, LoraTarget Target), (SafeTensorInfo? A, SafeTensorInfo? B)>();
        foreach (var t in file.Tensors.Values)
        {
            var m = PeftTensorName().Match(t.Name);
            if (!m.Success || !PeftModules.TryGetValue(m.Groups["module"].Value, out var target))
                throw Bad(name, tensorsPath, $"tensor '{t.Name}' is not a LoRA pair of a supported projection ({string.Join(", ", PeftModules.Keys)}); " +
                    "embedding, lm_head, DoRA and bias tensors are not supported");
            int layer = ParseLayer(name, tensorsPath, t.Name, m.Groups["layer"].Value, config);
            var key = (layer, target);
            halves.TryGetValue(key, out var pair);
            halves[key] = m.Groups["half"].Value == "A" ? pair with { A = t } : pair with { B = t };
        }
        var pairs = new LoraPair?[config.LayerCount, Enum.GetValues<LoraTarget>().Length];
        foreach (var ((layer, target), (a, b)) in halves)
        {
            if (a is null || b is null) throw Bad(name, tensorsPath, $"layer {layer} {target}: lora_{(a is null ? "A" : "B")} is missing");
            var (outDim, inDim) = BaseShape(name, tensorsPath, weights, layer, target);
            // safetensors shapes are [rows, cols]: A [r, in], B [out, r].
            CheckShape(name, tensorsPath, a.Name, a.Shape, peft.Rank, inDim);
            CheckShape(name, tensorsPath, b.Name, b.Shape, outDim, peft.Rank);
            var aRows = Floats(file.Matrix(a.Name, peft.Rank, inDim));
            var bRows = Floats(file.Matrix(b.Name, outDim, peft.Rank));
            // PEFT's q/k rows are in Hugging Face's layout (rotary halves).
            bRows = ToBaseLayout(bRows, peft.Rank, target, RopeStyle.HalfSplit, config);
            pairs[layer, (int)target] = Pair(name, layer, target, aRows, bRows, peft.Rank, inDim, outDim, scale);
        }
        if (halves.Count == 0) throw Bad(name, tensorsPath, "the file holds no LoRA tensors");
        return new LoraAdapter(name, dir, "peft", peft.Rank, peft.Alpha, pairs);
    }

    private static LoraAdapter LoadGguf(string name, string path, ModelConfig config, DecoderWeights weights)
    {
        GgufFile file;
        try { file = GgufFile.Open(path); }
        catch (InvalidDataException e) { throw Bad(name, path, e.Message); }
        using var _ = file;
        string type = file.GetOrDefault<string?>("general.type", null) ?? "(none)";
        if (type != "adapter") throw Bad(name, path, $"general.type is '{type}', expected 'adapter' (is this a model rather than a LoRA adapter?)");
        string adapterType = file.GetOrDefault<string?>("adapter.type", null) ?? "(none)";
        if (adapterType != "lora") throw Bad(name, path, $"adapter.type is '{adapterType}', expected 'lora'");
        string arch = file.GetOrDefault<string?>("general.architecture", null) ?? "(none)";
        if (arch != config.Architecture) throw Bad(name, path, $"the adapter is for architecture '{arch}', the model is '{config.Architecture}'");
        float alpha = file.GetOrDefault("adapter.lora.alpha", 0f);
        // The adapter's q/k rows are in the layout llama.cpp's converter gives this architecture's base weights.
        var adapterLayout = DecoderFamilies.ByArchitecture(arch)?.GgufRopeStyle ?? config.RopeStyle;

        var halves = new Dictionary<(int Layer, LoraTarget Target), (GgufTensorInfo? A, GgufTensorInfo? B)>();
        foreach (var t in file.Tensors)
        {
            var m = GgufTensorName().Match(t.Name);
            if (!m.Success || !GgufModules.TryGetValue(m.Groups["module"].Value, out var target))
                throw Bad(name, path, $"tensor '{t.Name}' is not a LoRA pair of a supported projection ({string.Join(", ", GgufModules.Keys)})");
            int layer = ParseLayer(name, path, t.Name, m.Groups["layer"].Value, config);
            var key = (layer, target);
            halves.TryGetValue(key, out var pair);
            halves[key] = m.Groups["half"].Value == "a" ? pair with { A = t } : pair with { B = t };
        }
        if (halves.Count == 0) throw Bad(name, path, "the file holds no LoRA tensors");
        var pairs = new LoraPair?[config.LayerCount, Enum.GetValues<LoraTarget>().Length];
        int maxRank = 0;
        foreach (var ((layer, target), (a, b)) in halves)
        {
            if (a is null || b is null) throw Bad(name, path, $"layer {layer} {target}: lora_{(a is null ? "a" : "b")} is missing");
            var (outDim, inDim) = BaseShape(name, path, weights, layer, target);
            // ggml dimensions are [cols, rows]: a [in, r], b [r, out] (llama.cpp's llama-adapter.cpp checks the same).
            if (a.Dimensions.Length != 2 || b.Dimensions.Length != 2 || a.Dimensions[0] != inDim || b.Dimensions[1] != outDim || a.Dimensions[1] != b.Dimensions[0])
                throw Bad(name, path, $"layer {layer} {target}: lora_a [{string.Join(", ", a.Dimensions)}] and lora_b [{string.Join(", ", b.Dimensions)}] " +
                    $"do not fit the model's projection (in {inDim}, out {outDim}): expected lora_a [{inDim}, r] and lora_b [r, {outDim}]");
            int rank = (int)a.Dimensions[1];
            maxRank = Math.Max(maxRank, rank);
            float scale = alpha != 0 ? alpha / rank : 1f;
            var aRows = Floats(file.Matrix(a.Name, rank, inDim));
            var bRows = ToBaseLayout(Floats(file.Matrix(b.Name, outDim, rank)), rank, target, adapterLayout, config);
            pairs[layer, (int)target] = Pair(name, layer, target, aRows, bRows, rank, inDim, outDim, scale);
        }
        return new LoraAdapter(name, path, "gguf", maxRank, alpha, pairs);
    }

    private sealed record PeftConfig(int Rank, float Alpha, bool UseRsLora);

    private static PeftConfig ReadPeftConfig(string name, string path)
    {
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllText(path)).RootElement; }
        catch (JsonException e) { throw Bad(name, path, "not valid JSON: " + e.Message); }
        if (root.ValueKind != JsonValueKind.Object) throw Bad(name, path, "expected a JSON object");
        if (root.TryGetProperty("peft_type", out var pt) && pt.ValueKind == JsonValueKind.String && pt.GetString() != "LORA")
            throw Bad(name, path, $"peft_type is '{pt.GetString()}'; only LORA adapters are supported");
        int rank = root.TryGetProperty("r", out var r) && r.TryGetInt32(out int rv) && rv > 0 ? rv : throw Bad(name, path, "'r' (the rank) must be a positive integer");
        float alpha = root.TryGetProperty("lora_alpha", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetSingle() : rank;
        bool rs = root.TryGetProperty("use_rslora", out var rsl) && rsl.ValueKind == JsonValueKind.True;
        if (root.TryGetProperty("use_dora", out var dora) && dora.ValueKind == JsonValueKind.True) throw Bad(name, path, "DoRA adapters (use_dora) are not supported");
        foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
            if (root.TryGetProperty(pattern, out var p) && p.ValueKind == JsonValueKind.Object && p.EnumerateObject().Any())
                throw Bad(name, path, $"per-module {pattern} is not supported");
        // fan_in_fan_out only says how PEFT stores the base weight (GPT-2's Conv1D) when merging; lora_A/B are [r, in]
        // and [out, r] either way, and the base weights here are always [out, in], so it needs no handling.
        if (root.TryGetProperty("target_modules", out var targets) && targets.ValueKind == JsonValueKind.Array)
            foreach (var t in targets.EnumerateArray())
                if (t.GetString() is { } module && !PeftModules.ContainsKey(module))
                    throw Bad(name, path, $"target module '{module}' is not supported (supported: {string.Join(", ", PeftModules.Keys)})");
        return new PeftConfig(rank, alpha, rs);
    }

    private static SafeTensorsFile OpenSafeTensors(string name, string path)
    {
        try { return SafeTensorsFile.Open(path); }
        catch (InvalidDataException e) { throw Bad(name, path, e.Message); }
    }

    private static int ParseLayer(string name, string path, string tensor, string text, ModelConfig config) =>
        int.TryParse(text, out int layer) && layer < config.LayerCount ? layer
            : throw Bad(name, path, $"tensor '{tensor}': layer {text} does not exist (the model has {config.LayerCount})");

    /// <summary>[out, in] of the base projection an adapter pair adds to; refuses targets the layer does not have.</summary>
    private static (int Out, int In) BaseShape(string name, string path, DecoderWeights weights, int layer, LoraTarget target)
    {
        var linear = BaseLinear(weights.Layers[layer], target)
            ?? throw Bad(name, path, $"layer {layer} {target}: the model's feed-forward block is a mixture of experts, which adapters cannot target");
        return (linear.OutputDim, linear.InputDim);
    }

    internal static Linear? BaseLinear(DecoderLayerWeights w, LoraTarget target) => target switch
    {
        LoraTarget.Query => w.Wq,
        LoraTarget.Key => w.Wk,
        LoraTarget.Value => w.Wv,
        LoraTarget.Output => w.Wo,
        LoraTarget.Gate => (w.FeedForward as GatedFeedForward)?.Gate,
        LoraTarget.Up => (w.FeedForward as GatedFeedForward)?.Up,
        _ => (w.FeedForward as GatedFeedForward)?.Down,
    };

    private static void CheckShape(string name, string path, string tensor, long[] shape, int rows, int cols)
    {
        if (shape.Length != 2 || shape[0] != rows || shape[1] != cols)
            throw Bad(name, path, $"tensor '{tensor}' has shape [{string.Join(", ", shape)}], but the model and r need [{rows}, {cols}] (an adapter for another base model?)");
    }

    private static float[] Floats(WeightMatrix m)
    {
        var values = new float[(long)m.Rows * m.Cols];
        for (int r = 0; r < m.Rows; r++) MatMul.DequantizeRow(m, r, values.AsSpan(r * m.Cols, m.Cols));
        return values;
    }

    /// <summary>
    /// B's q/k rows from the adapter's rotary layout to the base model's: Hugging Face keeps each head's rotary pairs as
    /// halves, llama.cpp's llama converter (and llama2.c) as adjacent rows (convert_hf_to_gguf.py's LlamaModel.permute).
    /// </summary>
    private static float[] ToBaseLayout(float[] b, int rank, LoraTarget target, RopeStyle adapterLayout, ModelConfig config)
    {
        if (adapterLayout == config.RopeStyle || target is not (LoraTarget.Query or LoraTarget.Key)) return b;
        int heads = target == LoraTarget.Query ? config.HeadCount : config.KvHeadCount;
        int half = config.HeadDim / 2;
        var result = new float[b.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                {
                    int halvesRow = h * config.HeadDim + j * half + i, pairsRow = h * config.HeadDim + 2 * i + j;
                    var (from, to) = adapterLayout == RopeStyle.HalfSplit ? (halvesRow, pairsRow) : (pairsRow, halvesRow);
                    b.AsSpan(from * rank, rank).CopyTo(result.AsSpan(to * rank, rank));
                }
        return result;
    }

    private static LoraPair Pair(string name, int layer, LoraTarget target, float[] a, float[] b, int rank, int inDim, int outDim, float scale)
    {
        if (!float.IsFinite(scale)) throw new InvalidDataException($"LoRA adapter '{name}': scale {scale} is not finite");
        string id = $"lora:{name}:{layer}:{target}";
        return new LoraPair(WeightMatrix.FromF32(id + ":A", a, rank, inDim), WeightMatrix.FromF32(id + ":B", b, outDim, rank), scale);
    }

    private static InvalidDataException Bad(string name, string path, string problem) => new($"LoRA adapter '{name}' ({path}): {problem}");

    [GeneratedRegex(@"^base_model\.model\.model\.layers\.(?<layer>\d+)\.(self_attn|mlp)\.(?<module>\w+)\.lora_(?<half>A|B)\.weight$")]
    private static partial Regex PeftTensorName();

    [GeneratedRegex(@"^blk\.(?<layer>\d+)\.(?<module>\w+)\.weight\.lora_(?<half>a|b)$")]
    private static partial Regex GgufTensorName();
}
