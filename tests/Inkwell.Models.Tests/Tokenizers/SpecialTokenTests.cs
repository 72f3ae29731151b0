using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>Special-token metadata and parsing on the real vocabularies in ../shared/vocab.</summary>
public sealed class SpecialTokenTests
{
    private static int Id(Tokenizer tokenizer, string piece) =>
        tokenizer.TryGetTokenId(piece, out int id) ? id : throw new InvalidOperationException($"'{piece}' is not in the vocabulary");

    [SharedFact]
    public void Chat_markers_in_text_become_single_tokens_when_parsing_special_tokens()
    {
        var qwen = VocabSuites.Tokenizer("qwen2");
        int start = Id(qwen, "<|im_start|>"), end = Id(qwen, "<|im_end|>");
        var ids = qwen.EncodeToIds("<|im_start|>user\nHi<|im_end|>", addSpecialTokens: false);
        Assert.Equal(start, ids[0]);
        Assert.Equal(end, ids[^1]);
        Assert.Equal(qwen.EncodeToIds("user\nHi", addSpecialTokens: false), ids.Skip(1).SkipLast(1));

        var literal = qwen.EncodeToIds("<|im_start|>user", addSpecialTokens: false, parseSpecialTokens: false);
        Assert.DoesNotContain(start, literal);
        Assert.Equal("<|im_start|>user", qwen.Decode(literal));
    }

    [SharedFact]
    public void Sentencepiece_text_after_a_special_token_gets_its_own_dummy_prefix()
    {
        var llama = VocabSuites.Tokenizer("llama-spm");
        var ids = llama.EncodeToIds("</s>Hello", addSpecialTokens: false);
        Assert.Equal([2, 15043], ids); // 15043 is "▁Hello" (llama-spm.gguf.out, "Hello")
    }

    [SharedFact]
    public void Phi3_chat_tokens_swallow_the_whitespace_after_them()
    {
        var phi3 = VocabSuites.Tokenizer("phi-3");
        int user = Id(phi3, "<|user|>");
        Assert.Equal([user, .. phi3.EncodeToIds("Hi", addSpecialTokens: false)], phi3.EncodeToIds("<|user|>\nHi", addSpecialTokens: false));
    }

    [SharedFact]
    public void Bos_and_eos_follow_each_family_convention()
    {
        // llama.cpp: SentencePiece adds BOS; GPT-2 and Qwen2 do not; Llama 3 (llama-bpe) does.
        Assert.True(VocabSuites.Tokenizer("llama-spm").AddBos);
        Assert.False(VocabSuites.Tokenizer("gpt-2").AddBos);
        Assert.False(VocabSuites.Tokenizer("qwen2").AddBos);
        var llama3 = VocabSuites.Tokenizer("llama-bpe");
        Assert.True(llama3.AddBos);
        Assert.Equal(128000, llama3.BosId); // tokenizer.ggml.bos_token_id of the file
        Assert.Equal([128000, 9906], llama3.EncodeToIds("Hello")); // 9906 = "Hello" in llama-bpe.gguf.out
        Assert.True(VocabSuites.Tokenizer("llama-spm").AddSpacePrefix);
        Assert.False(llama3.AddSpacePrefix);
    }

    [SharedFact]
    public void End_of_generation_covers_eos_and_end_of_turn_tokens()
    {
        var llama3 = VocabSuites.Tokenizer("llama-bpe");
        Assert.True(llama3.IsEndOfGeneration(llama3.EosId));
        Assert.True(llama3.IsEndOfGeneration(Id(llama3, "<|eot_id|>")));
        Assert.False(llama3.IsEndOfGeneration(Id(llama3, "<|start_header_id|>")));

        var qwen = VocabSuites.Tokenizer("qwen2");
        Assert.True(qwen.IsEndOfGeneration(Id(qwen, "<|im_end|>")));
        Assert.True(qwen.IsEndOfGeneration(Id(qwen, "<|endoftext|>")));
        Assert.False(qwen.IsEndOfGeneration(Id(qwen, "<|im_start|>")));

        var phi3 = VocabSuites.Tokenizer("phi-3");
        Assert.Equal(32000, phi3.EosId);
        Assert.True(phi3.IsEndOfGeneration(Id(phi3, "<|end|>")));
        Assert.False(VocabSuites.Tokenizer("llama-spm").IsEndOfGeneration(1));
    }

    [SharedFact]
    public void Token_bytes_are_what_the_token_adds_to_text()
    {
        var llama = VocabSuites.Tokenizer("llama-spm");
        Assert.Equal(" Hello"u8.ToArray(), llama.TokenBytes(15043).ToArray());
        Assert.Equal("▁Hello", llama.TokenText(15043));
        Assert.Equal([(byte)'\n'], llama.TokenBytes(Id(llama, "<0x0A>")).ToArray());
        Assert.Equal("<s>"u8.ToArray(), llama.TokenBytes(1).ToArray());
        Assert.True(llama.IsSpecial(1));
        Assert.False(llama.IsSpecial(15043));

        var gpt2 = VocabSuites.Tokenizer("gpt-2");
        Assert.Equal(" Hello"u8.ToArray(), gpt2.TokenBytes(Id(gpt2, "ĠHello")).ToArray());
        Assert.Equal("<|endoftext|>"u8.ToArray(), gpt2.TokenBytes(50256).ToArray());
    }

    [SharedFact]
    public void Ids_outside_the_vocabulary_are_rejected_clearly()
    {
        var llama = VocabSuites.Tokenizer("llama-spm");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => llama.Decode([1, 32000]));
        Assert.Contains("32000", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => llama.TokenText(-1));
    }

    [SharedTheory]
    [MemberData(nameof(VocabConformanceTests.Cases), MemberType = typeof(VocabConformanceTests))]
    public void Offsets_are_ordered_ranges_of_the_input(string suite, int index)
    {
        var (text, expected) = VocabSuites.Load(suite)[index];
        var tokens = VocabSuites.Tokenizer(suite).EncodeToTokens(text, addSpecialTokens: false);
        Assert.Equal(expected, tokens.Select(t => t.Id));
        int previousStart = 0;
        foreach (var token in tokens)
        {
            Assert.InRange(token.Start, previousStart, text.Length);
            Assert.InRange(token.End, token.Start, text.Length);
            previousStart = token.Start;
        }
        if (tokens.Count > 0) Assert.Equal(text.Length, tokens.Max(t => t.End));
    }
}
