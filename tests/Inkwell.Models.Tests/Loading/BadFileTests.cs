using System.Text;
using Inkwell.Models.Loading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Loading;

/// <summary>Broken model files give one clear error naming the file and the problem, never a crash in a kernel.</summary>
public sealed class BadFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-bad-").FullName;
    private static string Gguf => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");
    private static string Llama2c => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static InvalidDataException Fails(string path, string expected)
    {
        var e = Assert.ThrowsAny<Exception>(() => ModelLoader.Load(path, Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin")));
        var bad = Assert.IsType<InvalidDataException>(e);
        Assert.Contains(path, bad.Message);
        Assert.Contains(expected, bad.Message);
        return bad;
    }

    [SharedFact]
    public void A_tokenizer_with_more_tokens_than_the_model_is_refused_at_load()
    {
        // stories260K embeds 512 tokens (its README); llama.cpp's llama-spm vocabulary has 32000. Its ids would index
        // past the embeddings: the server started, then its first request killed the engine.
        string vocab = RepoPaths.InShared("vocab", "ggml-vocab-llama-spm.gguf");
        var e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(Gguf, vocab));
        Assert.Contains(vocab, e.Message);
        Assert.Contains("32000", e.Message);
        Assert.Contains("512", e.Message);
    }

    [Fact]
    public void Truncated_gguf_names_the_tensor_past_the_end()
    {
        var bytes = File.ReadAllBytes(Gguf);
        Fails(Write("cut.gguf", bytes[..(bytes.Length - 1000)]), "past the end of the file");
    }

    [Fact]
    public void Truncated_gguf_header()
    {
        var bytes = File.ReadAllBytes(Gguf);
        Fails(Write("head.gguf", bytes[..200]), "truncated");
    }

    [Fact]
    public void Wrong_magic_is_not_taken_for_gguf_and_fails_as_llama2c_shape()
    {
        var bytes = File.ReadAllBytes(Gguf);
        bytes[0] = (byte)'X';
        Fails(Write("magic.gguf", bytes), "");
    }

    [Fact]
    public void Unknown_tensor_type()
    {
        var bytes = File.ReadAllBytes(Gguf);
        // The first tensor info's type field follows its name and dims; find "token_embd.weight" info and poke its type.
        int at = IndexOf(bytes, Encoding.ASCII.GetBytes("token_embd.weight"));
        Assert.True(at > 0);
        int typeAt = at + "token_embd.weight".Length + 4 + 2 * 8;  // n_dims u32, two u64 dims
        BitConverter.GetBytes(99u).CopyTo(bytes, typeAt);
        Fails(Write("dtype.gguf", bytes), "unknown type 99");
    }

    [Fact]
    public void Unknown_architecture()
    {
        var bytes = File.ReadAllBytes(Gguf);
        int at = IndexOf(bytes, Encoding.ASCII.GetBytes("general.architecture"));
        int value = at + "general.architecture".Length + 4 + 8;  // value type u32, string length u64
        Encoding.ASCII.GetBytes("gptx!").CopyTo(bytes, value);
        Fails(Write("arch.gguf", bytes), "unsupported architecture 'gptx!'");
    }

    [Fact]
    public void Shape_mismatch_names_the_tensor()
    {
        var bytes = File.ReadAllBytes(Gguf);
        int at = IndexOf(bytes, Encoding.ASCII.GetBytes("llama.feed_forward_length"));
        int value = at + "llama.feed_forward_length".Length + 4;  // value type u32, then the u32 value
        BitConverter.GetBytes(160u).CopyTo(bytes, value);
        Fails(Write("shape.gguf", bytes), "blk.0.ffn_gate.weight' has shape");
    }

    [Fact]
    public void Truncated_llama2c_checkpoint()
    {
        var bytes = File.ReadAllBytes(Llama2c);
        Fails(Write("cut.bin", bytes[..(bytes.Length / 2)]), "truncated or not a llama2.c checkpoint");
    }

    [Fact]
    public void Missing_file_is_a_file_not_found()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ModelLoader.Load(Path.Combine(_dir, "nope.gguf")));
        Assert.Contains("nope.gguf", e.Message);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
            if (haystack.AsSpan(i, needle.Length).SequenceEqual(needle)) return i;
        return -1;
    }
}
