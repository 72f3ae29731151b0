using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Inkwell.Models.Gguf;
using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Loading;

/// <summary>
/// Writes stories260K as a Hugging Face directory (config.json + model.safetensors, Q/K rows in HF's half-split order,
/// as convert_hf_to_gguf.py's permute() inverted) and checks the loader gives the author's greedy text.
/// </summary>
public sealed class HuggingFaceLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-hf-").FullName;
    private static string Gguf => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");
    private static string Tok512 => Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Safetensors_directory_reproduces_the_golden_text()
    {
        WriteHuggingFaceCopy(_dir);
        using var model = ModelLoader.Load(_dir, Tok512);
        Assert.Equal("huggingface", model.Format);
        Assert.Equal(RopeStyle.HalfSplit, model.Config.RopeStyle);
        string golden = RepoPaths.GoldenGreedyText;
        Assert.Equal(golden, GreedyFromBos(model, 256));
    }

    [Fact]
    public void Missing_tensor_and_bad_config_are_clear_errors()
    {
        WriteHuggingFaceCopy(_dir, skip: "model.layers.2.mlp.up_proj.weight");
        var e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(_dir, Tok512));
        Assert.Contains("model.layers.2.mlp.up_proj.weight", e.Message);

        File.WriteAllText(Path.Combine(_dir, "config.json"), "{\"model_type\": \"gpt_neox\"}");
        e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(_dir, Tok512));
        Assert.Contains("unsupported model_type 'gpt_neox'", e.Message);
    }

    private static string GreedyFromBos(LoadedModel m, int steps)
    {
        using var pool = new WorkerPool(1);
        var model = m.CreateModel(pool);
        var (kv, table) = model.CreateSequenceCache(steps);
        var ids = new List<int>();
        int token = m.Tokenizer.BosId;
        for (int pos = 0; pos < steps; pos++)
        {
            var logits = model.Forward([new SequenceChunk(new[] { token }, pos, table)], kv);
            token = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
            ids.Add(token);
        }
        var decoder = m.Tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: m.Tokenizer.BosId);
        var sb = new StringBuilder();
        foreach (int id in ids) sb.Append(decoder.Append(id));
        sb.Append(decoder.Flush());
        return sb.ToString();
    }

    /// <summary>GGUF tensors renamed to HF's names, Q/K rows un-permuted to the half-split order, written as F32 safetensors.</summary>
    private static void WriteHuggingFaceCopy(string dir, string? skip = null)
    {
        using var f = GgufFile.Open(Gguf);
        var c = GgufDecoderLoader.ReadConfig(f);
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        float[] Read(string name, out long[] shape)
        {
            var t = f.Tensor(name);
            shape = t.Dimensions.Length == 1 ? [t.Dimensions[0]] : [t.Dimensions[1], t.Dimensions[0]];
            unsafe { return new ReadOnlySpan<float>(f.TensorData(t), (int)t.ElementCount).ToArray(); }
        }
        void Add(string hf, string gguf, int? permuteHeads = null)
        {
            var data = Read(gguf, out var shape);
            if (permuteHeads is int heads) data = Unpermute(data, heads, (int)shape[0], (int)shape[1]);
            if (hf != skip) tensors.Add((hf, shape, data));
        }
        Add("model.embed_tokens.weight", "token_embd.weight");
        Add("model.norm.weight", "output_norm.weight");
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"model.layers.{i}.", g = $"blk.{i}.";
            Add(p + "input_layernorm.weight", g + "attn_norm.weight");
            Add(p + "self_attn.q_proj.weight", g + "attn_q.weight", c.HeadCount);
            Add(p + "self_attn.k_proj.weight", g + "attn_k.weight", c.KvHeadCount);
            Add(p + "self_attn.v_proj.weight", g + "attn_v.weight");
            Add(p + "self_attn.o_proj.weight", g + "attn_output.weight");
            Add(p + "post_attention_layernorm.weight", g + "ffn_norm.weight");
            Add(p + "mlp.gate_proj.weight", g + "ffn_gate.weight");
            Add(p + "mlp.up_proj.weight", g + "ffn_up.weight");
            Add(p + "mlp.down_proj.weight", g + "ffn_down.weight");
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model_type"] = "llama", ["hidden_size"] = c.Dim, ["intermediate_size"] = c.HiddenDim, ["num_hidden_layers"] = c.LayerCount,
            ["num_attention_heads"] = c.HeadCount, ["num_key_value_heads"] = c.KvHeadCount, ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = 512, ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0, ["tie_word_embeddings"] = true,
        }));
        WriteSafetensors(Path.Combine(dir, "model.safetensors"), tensors);
    }

    /// <summary>Inverse of convert_hf_to_gguf.py permute(): GGUF row h*hd + 2i + a came from HF row h*hd + a*hd/2 + i.</summary>
    internal static float[] Unpermute(float[] gguf, int heads, int rows, int cols)
    {
        int hd = rows / heads, half = hd / 2;
        var hf = new float[gguf.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < half; i++)
                for (int a = 0; a < 2; a++)
                    Array.Copy(gguf, (h * hd + 2 * i + a) * cols, hf, (h * hd + a * half + i) * cols, cols);
        return hf;
    }

    internal static void WriteSafetensors(string path, List<(string Name, long[] Shape, float[] Data)> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            header[name] = new { dtype = "F32", shape, data_offsets = new[] { offset, offset + data.Length * 4L } };
            offset += data.Length * 4L;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes((ulong)padded));
        s.Write(json);
        for (int i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
        foreach (var (_, _, data) in tensors) s.Write(MemoryMarshal.AsBytes(data.AsSpan()));
    }
}
