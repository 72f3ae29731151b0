using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

public sealed class IncrementalDecoderTests
{
    public static TheoryData<string> Suites() => new(VocabSuites.Names.Where(VocabSuites.IsLossless));

    // Emoji, CJK and accented letters: SentencePiece vocabularies spell several of them with <0xAB> byte tokens,
    // byte-level ones with pieces that end mid-character.
    private const string MultibyteText = "🦙 llama 日本語のテキスト ünïcödé ខ្មែរ 🚀😶‍🌫️ done";

    [SharedTheory]
    [MemberData(nameof(Suites))]
    public void Streams_whole_characters_and_matches_decode(string suite)
    {
        var tokenizer = VocabSuites.Tokenizer(suite);
        var ids = tokenizer.EncodeToIds(MultibyteText, addSpecialTokens: false);
        var decoder = tokenizer.CreateIncrementalDecoder();

        var chunks = ids.Select(decoder.Append).ToList();
        chunks.Add(decoder.Flush());

        Assert.All(chunks, chunk => Assert.DoesNotContain('\uFFFD', chunk));
        Assert.Equal(tokenizer.Decode(ids), string.Concat(chunks));
        Assert.Equal(MultibyteText, string.Concat(chunks));
        // Some token ended inside a character, so its bytes were held back.
        Assert.Contains(string.Empty, chunks.SkipLast(1));
    }

    [SharedTheory]
    [InlineData(false, "<s> Hello world")]
    [InlineData(true, "Hello world")]
    public void Dummy_prefix_space_goes_only_when_nothing_is_rendered_before_it(bool skipSpecialTokens, string expected)
    {
        // Hugging Face's Llama tokenizer decodes [<s>, ▁Hello, ▁world] to "<s> Hello world", or "Hello world" skipping specials.
        var tokenizer = VocabSuites.Tokenizer("llama-spm");
        int[] ids = [1, 15043, 3186]; // 15043 "▁Hello", 3186 "▁world" (llama-spm.gguf.out, "Hello world")
        Assert.Equal(expected, tokenizer.Decode(ids, skipSpecialTokens));

        var decoder = tokenizer.CreateIncrementalDecoder(skipSpecialTokens);
        Assert.Equal(expected, string.Concat(ids.Select(decoder.Append)) + decoder.Flush());

        // Streaming a continuation: after BOS the space goes; after another token it stays.
        var afterBos = tokenizer.CreateIncrementalDecoder(skipSpecialTokens, previousId: 1);
        Assert.Equal("Hello", afterBos.Append(15043));
        var afterWord = tokenizer.CreateIncrementalDecoder(skipSpecialTokens, previousId: 15043);
        Assert.Equal(" world", afterWord.Append(3186));
    }

    [SharedFact]
    public void Byte_tokens_of_one_emoji_are_held_until_the_last_byte()
    {
        var tokenizer = VocabSuites.Tokenizer("llama-spm");
        // llama-spm.gguf.out spells "🦙" (F0 9F A6 99) as the byte tokens 243 162 169 156.
        int[] emoji = [243, 162, 169, 156];
        var decoder = tokenizer.CreateIncrementalDecoder(previousId: 29871);
        Assert.Equal(["", "", "", "🦙"], emoji.Select(decoder.Append).ToArray());
        Assert.False(decoder.HasPendingBytes);
    }

    [SharedFact]
    public void Unfinished_character_comes_out_as_replacement_on_flush()
    {
        var tokenizer = VocabSuites.Tokenizer("llama-spm");
        var decoder = tokenizer.CreateIncrementalDecoder(previousId: 29871);
        Assert.Equal("", decoder.Append(243));
        Assert.Equal("", decoder.Append(162));
        Assert.True(decoder.HasPendingBytes);
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("\uFFFD", tokenizer.Decode([29871, 243, 162]).TrimStart());
    }

    [Theory]
    [InlineData(new byte[] { 0x41 }, 1)]
    [InlineData(new byte[] { 0x41, 0xF0, 0x9F }, 1)]
    [InlineData(new byte[] { 0xF0, 0x9F, 0xA6, 0x99 }, 4)]
    [InlineData(new byte[] { 0xE6, 0x97 }, 0)]
    [InlineData(new byte[] { 0xC3 }, 0)]
    [InlineData(new byte[] { 0xC3, 0xA9, 0xC3 }, 2)]
    [InlineData(new byte[] { 0x9F }, 1)] // stray continuation byte: invalid, not held
    [InlineData(new byte[] { 0xFF }, 1)] // never valid in UTF-8
    public void Complete_prefix_stops_before_an_unfinished_sequence(byte[] bytes, int expected)
    {
        Assert.Equal(expected, IncrementalDecoder.CompletePrefixLength(bytes));
    }
}
