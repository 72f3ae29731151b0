using System.Reflection;
using Inkwell.Models.Decoder;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// `--quantize`: re-encodes a loaded model's float weight matrices in memory, choosing each matrix's encoding by
/// llama-quantize's rules (<see cref="TensorTypePlan"/>), so `serve --quantize q4_0` runs the weights
/// `llama-quantize ... q4_0` would have written. The rules go by llama.cpp tensor names, so the source names
/// (GGUF, Hugging Face or llama2.c) are translated first.
/// The weight objects are walked by reflection: every WeightMatrix they hold (including ones later families add)
/// is found without this class listing the fields of each architecture.
/// </summary>
public static class LoadTimeQuantizer
{
    /// <summary>
    /// The model with its matrices re-encoded. The result takes over <paramref name="model"/>'s resources (the
    /// mapped files stay the owner of what was not re-encoded): dispose the result, not both.
    /// </summary>
    public static LoadedModel Apply(LoadedModel model, QuantizationScheme scheme)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scheme);
        var matrices = new List<WeightMatrix>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        Collect(model.Weights, matrices, seen);

        var plannedNames = new Dictionary<WeightMatrix, string>(ReferenceEqualityComparer.Instance);
        foreach (var m in matrices) plannedNames[m] = LlamaCppName(m.Name);
        // Matrices sharing a name are the expert slices of one 3-D GGUF tensor (ne[2] = experts), planned once.
        var byName = matrices.GroupBy(m => plannedNames[m]).ToList();
        int experts = byName.Max(g => g.Count()) is var most && most > 1 ? most : 0;
        var plan = new TensorTypePlan(scheme,
            byName.Select(g => new PlannedTensor(g.Key, g.Count() > 1 ? [g.First().Cols, g.First().Rows, g.Count()] : [g.First().Cols, g.First().Rows], g.First().Type)),
            model.Config.LayerCount, experts, model.Config.Architecture);

        var replacements = new Dictionary<object, object>(ReferenceEqualityComparer.Instance);
        foreach (var m in matrices)
        {
            var target = plan.TargetOf(plannedNames[m]);
            if (target != m.Type) replacements[m] = MatrixQuantizer.Quantize(m, target);
        }
        var weights = (DecoderWeights)Rebuild(model.Weights, replacements)!;
        return new LoadedModel
        {
            Name = model.Name,
            Path = model.Path,
            Format = model.Format,
            Config = model.Config,
            Weights = weights,
            TokenizerOrNull = model.TokenizerOrNull,
            ChatTemplate = model.ChatTemplate,
        };
    }

    /// <summary>The llama.cpp name of a tensor from a Hugging Face (Llama layout) or llama2.c checkpoint; GGUF names pass through.</summary>
    public static string LlamaCppName(string name)
    {
        foreach (var (source, gguf) in s_wholeNames)
            if (name == source) return gguf;
        foreach (var prefix in s_layerPrefixes)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int dot = name.IndexOf('.', prefix.Length);
            if (dot < 0 || !int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), out int layer)) continue;
            string rest = name[(dot + 1)..];
            foreach (var (source, gguf) in s_layerNames)
                if (rest == source) return $"blk.{layer}.{gguf}";
        }
        return name;
    }

    private static readonly (string Source, string Gguf)[] s_wholeNames =
    [
        ("model.embed_tokens.weight", "token_embd.weight"), ("lm_head.weight", "output.weight"), ("model.norm.weight", "output_norm.weight"),
        ("token_embedding", "token_embd.weight"), ("wcls", "output.weight"),
    ];

    private static readonly string[] s_layerPrefixes = ["model.layers.", "layers."];

    private static readonly (string Source, string Gguf)[] s_layerNames =
    [
        ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.o_proj.weight", "attn_output.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"), ("mlp.down_proj.weight", "ffn_down.weight"),
        ("wq", "attn_q.weight"), ("wk", "attn_k.weight"), ("wv", "attn_v.weight"), ("wo", "attn_output.weight"),
        ("w1", "ffn_gate.weight"), ("w3", "ffn_up.weight"), ("w2", "ffn_down.weight"),
    ];

    /// <summary>Our own weight classes (not owners such as mapped files, which are IDisposable, nor the weights' root, which is walked explicitly).</summary>
    private static bool IsWeightContainer(Type t) =>
        t.IsClass && t.Assembly == typeof(DecoderWeights).Assembly && (!typeof(IDisposable).IsAssignableFrom(t) || t == typeof(DecoderWeights));

    private static bool HoldsWeights(Type t) =>
        t == typeof(WeightMatrix) || IsWeightContainer(t) || (t.IsArray && HoldsWeights(t.GetElementType()!));

    private static IEnumerable<PropertyInfo> Properties(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0);

    private static void Collect(object? value, List<WeightMatrix> found, HashSet<object> seen)
    {
        if (value is null || !seen.Add(value)) return;
        switch (value)
        {
            case WeightMatrix m:
                found.Add(m);
                return;
            case Array array:
                if (HoldsWeights(array.GetType().GetElementType()!))
                    foreach (var item in array) Collect(item, found, seen);
                return;
        }
        if (!IsWeightContainer(value.GetType())) return;
        foreach (var p in Properties(value.GetType()))
            if (HoldsWeights(p.PropertyType)) Collect(p.GetValue(value), found, seen);
    }

    /// <summary>A copy of <paramref name="value"/> with matrices swapped; shared references (tied embeddings) stay shared.</summary>
    private static object? Rebuild(object? value, Dictionary<object, object> done)
    {
        if (value is null) return null;
        if (done.TryGetValue(value, out var replaced)) return replaced;
        switch (value)
        {
            case WeightMatrix:
                return value;
            case Array array when array.GetType().GetElementType() is { } element && HoldsWeights(element):
            {
                var copy = Array.CreateInstance(element, array.Length);
                for (int i = 0; i < array.Length; i++) copy.SetValue(Rebuild(array.GetValue(i), done), i);
                done[value] = copy;
                return copy;
            }
        }
        if (!IsWeightContainer(value.GetType())) return value;
        var clone = s_memberwiseClone.Invoke(value, null)!;
        done[value] = clone;
        foreach (var p in Properties(value.GetType()))
        {
            if (!p.CanWrite || !HoldsWeights(p.PropertyType)) continue;
            var original = p.GetValue(value);
            var rebuilt = Rebuild(original, done);
            if (!ReferenceEquals(original, rebuilt)) p.SetValue(clone, rebuilt);
        }
        return clone;
    }

    private static readonly MethodInfo s_memberwiseClone =
        typeof(object).GetMethod("MemberwiseClone", BindingFlags.NonPublic | BindingFlags.Instance)!;
}
