using System.Text;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>
/// Small hand-written tokenizer.json files. Expected ids follow by hand from the BPE definition: apply the
/// lowest-ranked merge present anywhere in the word, repeat; characters without a token fall back to bytes.
/// </summary>
public sealed class HuggingFaceJsonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-hf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string json)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json, new UTF8Encoding(false));
        return path;
    }

    // Llama-2 style: Prepend ▁ + Replace ' ' -> ▁ normalizers, no pre-tokenizer, byte_fallback, BOS from the template.
    private const string SentencePieceJson = """
        {
          "version": "1.0",
          "added_tokens": [
            {"id": 0, "content": "<unk>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false},
            {"id": 1, "content": "<s>", "special": true},
            {"id": 2, "content": "</s>", "special": true},
            {"id": 20, "content": "<|end|>", "special": true, "rstrip": true}
          ],
          "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
          ]},
          "pre_tokenizer": null,
          "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [], "special_tokens": {}},
          "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
          "model": {
            "type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xC3>": 3, "<0xA9>": 4, "▁": 5, "h": 6, "e": 7, "l": 8, "o": 9,
                      "▁h": 10, "ll": 11, "▁he": 12, "llo": 13, "▁hello": 14, "w": 15, "r": 16, "d": 17, "▁w": 18, "or": 19},
            "merges": ["▁ h", "l l", "▁h e", "ll o", "▁he llo", "▁ w", "o r"]
          }
        }
        """;

    [Fact]
    public void SentencePiece_style_json_merges_by_rank_with_byte_fallback()
    {
        var tokenizer = Tokenizer.FromHuggingFaceJson(Write("tokenizer.json", SentencePieceJson));

        Assert.Equal(21, tokenizer.VocabSize);
        Assert.True(tokenizer.AddBos);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal(0, tokenizer.UnkId);
        // "▁hello▁world": ▁h, ll, ▁he, llo, ▁hello, ▁w, or; "l" and "d" stay single.
        Assert.Equal([1, 14, 18, 19, 8, 17], tokenizer.EncodeToIds("hello world"));
        // é has no token: its UTF-8 bytes C3 A9 become byte tokens.
        Assert.Equal([5, 3, 4], tokenizer.EncodeToIds("é", addSpecialTokens: false));
        // z has neither a token nor a byte token: unknown.
        Assert.Equal([5, 0], tokenizer.EncodeToIds("z", addSpecialTokens: false));
        // <|end|> is one token and (rstrip) swallows the space after it; the next text gets its own ▁.
        Assert.Equal([14, 20, 18, 19, 8, 17], tokenizer.EncodeToIds("hello<|end|> world", addSpecialTokens: false));

        Assert.Equal("hello world", tokenizer.Decode([1, 14, 18, 19, 8, 17], skipSpecialTokens: true));
        Assert.Equal("é", tokenizer.Decode([5, 3, 4]));
        Assert.Equal(" hello"u8.ToArray(), tokenizer.TokenBytes(14).ToArray());
        Assert.Equal([0xC3], tokenizer.TokenBytes(3).ToArray());
        Assert.Equal(TokenKind.Byte, tokenizer.GetTokenKind(3));
        Assert.True(tokenizer.IsSpecial(20));
    }

    [Fact]
    public void Offsets_point_back_into_the_input()
    {
        var tokenizer = Tokenizer.FromHuggingFaceJson(Write("tokenizer.json", SentencePieceJson));
        var tokens = tokenizer.EncodeToTokens("hello world");
        // BOS is empty at 0; "▁hello" is "hello" (the ▁ was added), "▁w" is " w".
        Assert.Equal(
            [new(1, 0, 0), new(14, 0, 5), new(18, 5, 7), new(19, 7, 9), new(8, 9, 10), new(17, 10, 11)],
            tokens);
    }

    // GPT-2 style: ByteLevel pre-tokenizer with its regex, merges as [a, b] pairs, EOS from tokenizer_config.json.
    private const string ByteLevelJson = """
        {
          "added_tokens": [{"id": 21, "content": "<|endoftext|>", "special": true}],
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {
            "type": "BPE", "unk_token": null, "byte_fallback": false,
            "vocab": {"H": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "w": 5, "r": 6, "d": 7, "!": 8, "He": 9, "ll": 10, "llo": 11,
                      "Hello": 12, "Ġw": 13, "or": 14, "Ġwor": 15, "ld": 16, "Ġworld": 17, "Ã": 18, "©": 19, "Ã©": 20},
            "merges": [["H", "e"], ["l", "l"], ["ll", "o"], ["He", "llo"], ["Ġ", "w"], ["o", "r"], ["Ġw", "or"], ["l", "d"], ["Ġwor", "ld"], ["Ã", "©"]]
          }
        }
        """;

    [Fact]
    public void Byte_level_json_splits_words_and_maps_bytes()
    {
        string path = Write("tokenizer.json", ByteLevelJson);
        Write("tokenizer_config.json", """{"bos_token": null, "eos_token": "<|endoftext|>", "add_bos_token": false}""");
        var tokenizer = Tokenizer.FromHuggingFaceJson(path);

        Assert.False(tokenizer.AddBos);
        Assert.Equal(21, tokenizer.EosId);
        Assert.True(tokenizer.IsEndOfGeneration(21));
        // Words "Hello", " world", "!"; the space is the byte-level character Ġ.
        Assert.Equal([12, 17, 8], tokenizer.EncodeToIds("Hello world!"));
        // é = C3 A9 = "Ã©" in byte-level characters, merged by the last rule.
        Assert.Equal([20], tokenizer.EncodeToIds("é"));
        Assert.Equal([12, 21], tokenizer.EncodeToIds("Hello<|endoftext|>"));

        Assert.Equal("Hello world!", tokenizer.Decode([12, 17, 8]));
        Assert.Equal(" world"u8.ToArray(), tokenizer.TokenBytes(17).ToArray());
        Assert.Equal([0xC3], tokenizer.TokenBytes(18).ToArray());
        Assert.Equal("<|endoftext|>", tokenizer.Decode([21]));
        Assert.Equal("", tokenizer.Decode([21], skipSpecialTokens: true));

        var decoder = tokenizer.CreateIncrementalDecoder();
        Assert.Equal("", decoder.Append(18));
        Assert.Equal("é", decoder.Append(19));
    }

    [Fact]
    public void Broken_json_is_an_invalid_data_error_naming_the_file()
    {
        string path = Write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
        var error = Assert.Throws<InvalidDataException>(() => Tokenizer.FromHuggingFaceJson(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Sequence_without_members_and_a_metaspace_pre_tokenizer_load()
    {
        // Mistral-style: no normalizer work, Metaspace puts ▁ first only at the start and splits words before each ▁.
        string path = Write("tokenizer.json", """
            {"normalizer": {"type": "Sequence"}, "post_processor": {"type": "Sequence"},
             "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
             "model": {"type": "BPE", "byte_fallback": false, "unk_token": "<unk>",
                       "vocab": {"<unk>": 0, "▁": 1, "a": 2, "b": 3, "▁a": 4, "ab": 5, "▁ab": 6},
                       "merges": ["▁ a", "a b", "▁a b"]}}
            """);
        var tokenizer = Tokenizer.FromHuggingFaceJson(path);
        Assert.False(tokenizer.AddBos);
        // "▁ab▁ab" splits into "▁ab" and "▁ab" (each merged by "▁ a" then "▁a b"); "c" is unknown.
        Assert.Equal([6, 6], tokenizer.EncodeToIds("ab ab"));
        Assert.Equal([6, 0], tokenizer.EncodeToIds("abc"));
        // An input already starting with a space gets no second ▁.
        Assert.Equal([6], tokenizer.EncodeToIds(" ab"));
        Assert.Equal("ab ab", tokenizer.Decode([6, 6]));
    }

    [Fact]
    public void Unsupported_model_type_is_an_invalid_data_error_naming_it()
    {
        string path = Write("tokenizer.json", """{"model": {"type": "WordPiece", "vocab": {"a": 0}}}""");
        var error = Assert.Throws<InvalidDataException>(() => Tokenizer.FromHuggingFaceJson(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("WordPiece", error.Message);
    }
}
