using System.Text;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>Vocabulary-only GGUF files written by hand (GGUF v3 layout) to check the loader's errors.</summary>
public sealed class GgufTokenizerErrorTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"inkwell-tok-{Guid.NewGuid():N}.gguf");

    public void Dispose() => File.Delete(_path);

    private Tokenizer Load(params (string Key, object Value)[] metadata)
    {
        using (var writer = new BinaryWriter(File.Create(_path), Encoding.UTF8))
        {
            writer.Write(0x46554747u); // "GGUF"
            writer.Write(3u);
            writer.Write(0L); // tensors
            writer.Write((long)metadata.Length);
            foreach (var (key, value) in metadata)
            {
                WriteString(writer, key);
                switch (value)
                {
                    case string s:
                        writer.Write(8u);
                        WriteString(writer, s);
                        break;
                    case string[] items:
                        writer.Write(9u);
                        writer.Write(8u);
                        writer.Write((long)items.Length);
                        foreach (var item in items) WriteString(writer, item);
                        break;
                    case uint u:
                        writer.Write(4u);
                        writer.Write(u);
                        break;
                    default:
                        throw new ArgumentException($"unsupported test value {value}");
                }
            }
        }
        using var gguf = GgufFile.Open(_path);
        return Tokenizer.FromGguf(gguf);
    }

    private static void WriteString(BinaryWriter writer, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        writer.Write((long)bytes.Length);
        writer.Write(bytes);
    }

    private static readonly string[] Tokens = ["a", "b", "ab"];

    [Fact]
    public void Unknown_tokenizer_model_names_the_file_and_the_model()
    {
        var error = Assert.Throws<InvalidDataException>(() => Load(("tokenizer.ggml.model", "mystery"), ("tokenizer.ggml.tokens", Tokens)));
        Assert.Contains(_path, error.Message);
        Assert.Contains("'mystery'", error.Message);
    }

    [Fact]
    public void Unknown_pre_tokenizer_names_the_file_and_the_pre()
    {
        var error = Assert.Throws<InvalidDataException>(() => Load(
            ("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.pre", "mystery"), ("tokenizer.ggml.tokens", Tokens), ("tokenizer.ggml.merges", new[] { "a b" })));
        Assert.Contains(_path, error.Message);
        Assert.Contains("'mystery'", error.Message);
    }

    [Fact]
    public void Missing_merges_for_byte_level_bpe_is_reported()
    {
        var error = Assert.Throws<InvalidDataException>(() => Load(("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", Tokens)));
        Assert.Contains(_path, error.Message);
        Assert.Contains("tokenizer.ggml.merges", error.Message);
    }

    [Fact]
    public void Bos_outside_the_vocabulary_is_reported()
    {
        var error = Assert.Throws<InvalidDataException>(() => Load(
            ("tokenizer.ggml.model", "llama"), ("tokenizer.ggml.tokens", Tokens), ("tokenizer.ggml.bos_token_id", 7u)));
        Assert.Contains("bos_token_id", error.Message);
    }

    [Fact]
    public void Placeholder_vocabulary_loads_and_refuses_text_with_the_reason()
    {
        var tokenizer = Load(("tokenizer.ggml.model", "test"), ("tokenizer.ggml.tokens", new[] { "tok_0", "tok_1", "tok_2" }),
            ("tokenizer.ggml.bos_token_id", 1u));
        Assert.True(tokenizer.IsPlaceholder);
        Assert.Equal(3, tokenizer.VocabSize);
        Assert.Equal(1, tokenizer.BosId);
        var encode = Assert.Throws<NotSupportedException>(() => tokenizer.EncodeToIds("hello"));
        Assert.Contains(_path, encode.Message);
        Assert.Contains("placeholder", encode.Message);
        Assert.Throws<NotSupportedException>(() => tokenizer.Decode([0, 1]));
    }

    [Fact]
    public void Word_piece_adds_cls_and_sep_and_marks_unknown_words()
    {
        // llama.cpp's BERT layout: word-initial pieces carry '▁', continuations do not.
        var tokenizer = Load(("tokenizer.ggml.model", "bert"), ("tokenizer.ggml.tokens", new[] { "[CLS]", "[SEP]", "[UNK]", "▁ab", "c", "▁!" }),
            ("tokenizer.ggml.bos_token_id", 0u), ("tokenizer.ggml.seperator_token_id", 1u), ("tokenizer.ggml.unknown_token_id", 2u));
        Assert.Equal([0, 3, 4, 5, 2, 1], tokenizer.EncodeToIds("ABc! xyz"));
    }

    [Fact]
    public void Minimal_byte_level_vocabulary_merges_by_rank()
    {
        var tokenizer = Load(("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.pre", "gpt-2"),
            ("tokenizer.ggml.tokens", Tokens), ("tokenizer.ggml.merges", new[] { "a b" }));
        Assert.Equal([2, 0], tokenizer.EncodeToIds("aba"));
        Assert.False(tokenizer.AddBos);
        Assert.Equal(-1, tokenizer.BosId);
    }
}
