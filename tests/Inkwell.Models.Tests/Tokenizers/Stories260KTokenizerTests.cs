using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>The embedded stories260K model's 512-token vocabulary, as llama2.c tokenizer.bin and inside its GGUF.</summary>
public sealed class Stories260KTokenizerTests
{
    // models/stories260K/README.md: "Once upon a time" encodes to BOS then 403, 407, 261, 378.
    private static readonly int[] OnceUponATime = [1, 403, 407, 261, 378];

    private static string Tok512Path => Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin");

    [Fact]
    public void Llama2c_tokenizer_encodes_the_published_prompt()
    {
        var tokenizer = Tokenizer.FromLlama2cFile(Tok512Path, 512);
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.Equal(OnceUponATime, tokenizer.EncodeToIds("Once upon a time"));
        Assert.Equal("Once upon a time", tokenizer.Decode(OnceUponATime, skipSpecialTokens: true));
    }

    [Fact]
    public void Gguf_tokenizer_encodes_the_published_prompt()
    {
        using var gguf = GgufFile.Open(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var tokenizer = Tokenizer.FromGguf(gguf);
        Assert.Equal(512, tokenizer.VocabSize);
        Assert.Equal((1, 2, 0), (tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId));
        Assert.True(tokenizer.AddBos);
        Assert.Equal(OnceUponATime, tokenizer.EncodeToIds("Once upon a time"));
    }

    [Fact]
    public void Both_files_hold_the_same_vocabulary()
    {
        var fromBin = Tokenizer.FromLlama2cFile(Tok512Path, 512);
        using var gguf = GgufFile.Open(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var fromGguf = Tokenizer.FromGguf(gguf);
        for (int id = 0; id < 512; id++)
        {
            Assert.Equal(fromGguf.TokenText(id), fromBin.TokenText(id));
            Assert.Equal(fromGguf.GetTokenKind(id), fromBin.GetTokenKind(id));
        }
        const string text = "Lily saw a big, red ball! She said: \"Wow\"\n日本";
        Assert.Equal(fromGguf.EncodeToIds(text), fromBin.EncodeToIds(text));
    }

    [Fact]
    public void Generation_from_bos_decodes_without_the_dummy_prefix_space()
    {
        var tokenizer = Tokenizer.FromLlama2cFile(Tok512Path, 512);
        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: tokenizer.BosId);
        string text = string.Concat(OnceUponATime[1..].Select(decoder.Append)) + decoder.Flush();
        Assert.Equal("Once upon a time", text);
    }

    [Fact]
    public void The_models_published_story_round_trips()
    {
        // greedy-256-from-bos.txt: the model author's decoded greedy output, so every piece of it is in this vocabulary.
        string story = File.ReadAllText(Path.Combine(RepoPaths.EmbeddedModelDir, "greedy-256-from-bos.txt"));
        var tokenizer = Tokenizer.FromLlama2cFile(Tok512Path, 512);
        var ids = tokenizer.EncodeToIds(story);
        Assert.DoesNotContain(0, ids); // no <unk>
        Assert.Equal(story, tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Truncated_tokenizer_bin_is_an_invalid_data_error_naming_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"inkwell-truncated-{Guid.NewGuid():N}.bin");
        try
        {
            byte[] bytes = File.ReadAllBytes(Tok512Path);
            File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
            var error = Assert.Throws<InvalidDataException>(() => Tokenizer.FromLlama2cFile(path, 512));
            Assert.Contains(path, error.Message);
            Assert.Contains("truncated", error.Message);

            File.WriteAllBytes(path, bytes[..2]);
            error = Assert.Throws<InvalidDataException>(() => Tokenizer.FromLlama2cFile(path, 512));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Asking_for_more_tokens_than_the_file_holds_is_an_invalid_data_error()
    {
        var error = Assert.Throws<InvalidDataException>(() => Tokenizer.FromLlama2cFile(Tok512Path, 513));
        Assert.Contains(Tok512Path, error.Message);
        Assert.Contains("token 512", error.Message);
    }
}
