using System.Runtime.InteropServices;
using Inkwell.Models.Decoder;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// llama2.c checkpoints: the legacy f32 format (7-int header; negative vocab size means a separate classifier)
/// and the "version 2" Q8_0 export (magic "ak42"), whose int8 groups are dequantized to f32 on load because
/// their group size (often 4) is not ggml's block of 32.
/// </summary>
public static class Llama2cLoader
{
    private const uint Version2Magic = 0x616b3432;
    private const int Version2HeaderBytes = 256;

    /// <param name="quantize">--quantize: matrices re-encoded as llama-quantize would encode the checkpoint's GGUF.</param>
    public static (ModelConfig Config, DecoderWeights Weights) Load(string path, QuantizationScheme? quantize = null)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"{path}: file not found", path); }
        if (bytes.Length < 28) throw Bad(path, $"file is {bytes.Length} bytes, too short for a llama2.c header");
        var ints = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(0, bytes.Length / 4 * 4));
        return (uint)ints[0] == Version2Magic ? LoadVersion2(path, bytes, ints, quantize) : LoadLegacy(path, bytes, ints, quantize);
    }

    private static (ModelConfig, DecoderWeights) LoadLegacy(string path, byte[] bytes, ReadOnlySpan<int> header, QuantizationScheme? quantize)
    {
        bool shared = header[5] > 0;
        var c = Config(path, header[0], header[1], header[2], header[3], header[4], Math.Abs(header[5]), header[6]);
        var floats = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(28, (bytes.Length - 28) / 4 * 4));
        int headSize = c.HeadDim;
        long expected = (long)c.VocabSize * c.Dim
            + c.LayerCount * (2L * c.Dim + (long)c.Dim * c.QDim + 2L * c.Dim * c.KvDim + (long)c.QDim * c.Dim + 3L * c.Dim * c.HiddenDim)
            + c.Dim + (long)c.ContextLength * headSize  // rms_final + legacy freq_cis_real/imag (seq_len * head_size/2 each)
            + (shared ? 0 : (long)c.VocabSize * c.Dim);
        if (floats.Length < expected)
            throw Bad(path, $"holds {floats.Length} floats after the header but the shape needs {expected}: truncated or not a llama2.c checkpoint");

        long at = 0;
        float[] Take(long n)
        {
            var a = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(checked((int)(28 + at * 4)), checked((int)(n * 4)))).ToArray();
            at += n;
            return a;
        }
        var embedding = Take((long)c.VocabSize * c.Dim);
        var rmsAtt = Take((long)c.LayerCount * c.Dim);
        var wq = Take((long)c.LayerCount * c.QDim * c.Dim);
        var wk = Take((long)c.LayerCount * c.KvDim * c.Dim);
        var wv = Take((long)c.LayerCount * c.KvDim * c.Dim);
        var wo = Take((long)c.LayerCount * c.Dim * c.QDim);
        var rmsFfn = Take((long)c.LayerCount * c.Dim);
        var w1 = Take((long)c.LayerCount * c.HiddenDim * c.Dim);
        var w2 = Take((long)c.LayerCount * c.Dim * c.HiddenDim);
        var w3 = Take((long)c.LayerCount * c.HiddenDim * c.Dim);
        var rmsFinal = Take(c.Dim);
        at += c.ContextLength * headSize; // skip freq_cis_real and freq_cis_imag
        var wcls = shared ? null : Take((long)c.VocabSize * c.Dim);
        return (c, Assemble(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, wcls, quantize));
    }

    private static (ModelConfig, DecoderWeights) LoadVersion2(string path, byte[] bytes, ReadOnlySpan<int> ints, QuantizationScheme? quantize)
    {
        if (bytes.Length < Version2HeaderBytes) throw Bad(path, "truncated version 2 header");
        if (ints[1] != 2) throw Bad(path, $"unsupported llama2.c export version {ints[1]} (1 = legacy header, 2 = Q8_0 are supported)");
        var c = Config(path, ints[2], ints[3], ints[4], ints[5], ints[6], ints[7], ints[8]);
        bool shared = bytes[36] != 0;
        int groupSize = BitConverter.ToInt32(bytes, 37);
        if (groupSize <= 0 || c.Dim % groupSize != 0 || c.HiddenDim % groupSize != 0)
            throw Bad(path, $"group size {groupSize} does not divide the model's dimensions");

        int at = Version2HeaderBytes;
        float[] Floats(long n)
        {
            if (at + n * 4 > bytes.Length) throw Bad(path, $"truncated at byte {at} (needs {n * 4} more bytes)");
            var a = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(at, (int)(n * 4))).ToArray();
            at += (int)(n * 4);
            return a;
        }
        // Each quantized tensor: int8 values, then one f32 scale per group of groupSize.
        float[] Quantized(int count, long each)
        {
            var result = new float[count * each];
            for (int t = 0; t < count; t++)
            {
                long scaleBytes = each / groupSize * 4;
                if (at + each + scaleBytes > bytes.Length) throw Bad(path, $"truncated at byte {at} (needs {each + scaleBytes} more bytes)");
                var q = MemoryMarshal.Cast<byte, sbyte>(bytes.AsSpan(at, (int)each));
                var s = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(at + (int)each, (int)scaleBytes));
                for (long i = 0; i < each; i++) result[t * each + i] = q[(int)i] * s[(int)(i / groupSize)];
                at += (int)(each + scaleBytes);
            }
            return result;
        }
        var rmsAtt = Floats((long)c.LayerCount * c.Dim);
        var rmsFfn = Floats((long)c.LayerCount * c.Dim);
        var rmsFinal = Floats(c.Dim);
        var embedding = Quantized(1, (long)c.VocabSize * c.Dim);
        var wq = Quantized(c.LayerCount, (long)c.QDim * c.Dim);
        var wk = Quantized(c.LayerCount, (long)c.KvDim * c.Dim);
        var wv = Quantized(c.LayerCount, (long)c.KvDim * c.Dim);
        var wo = Quantized(c.LayerCount, (long)c.Dim * c.QDim);
        var w1 = Quantized(c.LayerCount, (long)c.HiddenDim * c.Dim);
        var w2 = Quantized(c.LayerCount, (long)c.Dim * c.HiddenDim);
        var w3 = Quantized(c.LayerCount, (long)c.HiddenDim * c.Dim);
        var wcls = shared ? null : Quantized(1, (long)c.VocabSize * c.Dim);
        return (c, Assemble(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, wcls, quantize));
    }

    private static ModelConfig Config(string path, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen) =>
        new ModelConfig
        {
            Architecture = "llama",
            Dim = dim,
            HiddenDim = hidden,
            LayerCount = layers,
            HeadCount = heads,
            KvHeadCount = kvHeads,
            VocabSize = vocab,
            ContextLength = seqLen,
            RopeStyle = RopeStyle.Interleaved,
        }.Validated(path);

    private static DecoderWeights Assemble(ModelConfig c, float[] embedding, float[] rmsAtt, float[] wq, float[] wk, float[] wv,
        float[] wo, float[] rmsFfn, float[] w1, float[] w2, float[] w3, float[] rmsFinal, float[]? wcls, QuantizationScheme? quantize)
    {
        static float[] Slice(float[] all, int index, long each) => all.AsSpan((int)(index * each), (int)each).ToArray();
        var quantizer = quantize is null ? null : LoadTimeQuantizer.ForCheckpoint(MatrixShapes(c, wcls is not null), c, quantize);
        // Every matrix comes through here, so --quantize sees each one whole.
        WeightMatrix M(string name, float[] values, int rows, int cols)
        {
            var m = WeightMatrix.FromF32(name, values, rows, cols);
            return quantizer is null ? m : quantizer.Apply(LoadTimeQuantizer.LlamaCppName(name), m);
        }
        var layers = new DecoderLayerWeights[c.LayerCount];
        for (int l = 0; l < c.LayerCount; l++)
        {
            Linear L(string name, float[] all, int rows, int cols) => new(M($"layers.{l}.{name}", Slice(all, l, (long)rows * cols), rows, cols));
            layers[l] = new DecoderLayerWeights
            {
                AttentionNorm = Slice(rmsAtt, l, c.Dim),
                Wq = L("wq", wq, c.QDim, c.Dim),
                Wk = L("wk", wk, c.KvDim, c.Dim),
                Wv = L("wv", wv, c.KvDim, c.Dim),
                Wo = L("wo", wo, c.Dim, c.QDim),
                FfnNorm = Slice(rmsFfn, l, c.Dim),
                FeedForward = new GatedFeedForward(L("w1", w1, c.HiddenDim, c.Dim), L("w3", w3, c.HiddenDim, c.Dim),
                    L("w2", w2, c.Dim, c.HiddenDim), GateActivation.Silu),
            };
        }
        var tokenEmbedding = M("token_embedding", embedding, c.VocabSize, c.Dim);
        return new DecoderWeights
        {
            TokenEmbedding = tokenEmbedding,
            Layers = layers,
            OutputNorm = rmsFinal,
            Output = new Linear(wcls is null ? tokenEmbedding : M("wcls", wcls, c.VocabSize, c.Dim)),
        };
    }

    /// <summary>The checkpoint's matrices as <see cref="Assemble"/> names them (its norm vectors are never quantized, so not listed).</summary>
    private static IEnumerable<(string Name, long[] Shape, GgmlType Type)> MatrixShapes(ModelConfig c, bool separateClassifier)
    {
        yield return ("token_embedding", new long[] { c.VocabSize, c.Dim }, GgmlType.F32);
        for (int l = 0; l < c.LayerCount; l++)
        {
            foreach (var (name, rows, cols) in new[] { ("wq", c.QDim, c.Dim), ("wk", c.KvDim, c.Dim), ("wv", c.KvDim, c.Dim), ("wo", c.Dim, c.QDim),
                         ("w1", c.HiddenDim, c.Dim), ("w2", c.Dim, c.HiddenDim), ("w3", c.HiddenDim, c.Dim) })
                yield return ($"layers.{l}.{name}", new long[] { rows, cols }, GgmlType.F32);
        }
        if (separateClassifier) yield return ("wcls", new long[] { c.VocabSize, c.Dim }, GgmlType.F32);
    }

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: {problem}");
}
