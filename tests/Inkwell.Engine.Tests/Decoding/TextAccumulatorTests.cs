using System.Text;
using Inkwell.Engine.Decoding;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine.Tests.Decoding;

/// <summary>Text assembly over the embedded model's vocabulary, fed byte-fallback tokens (one token per byte).</summary>
public class TextAccumulatorTests
{
    private static readonly Tokenizer Vocab = LoadVocab();

    private static Tokenizer LoadVocab()
    {
        using var f = GgufFile.Open(EngineTestModels.Gguf);
        return Tokenizer.FromGguf(f);
    }

    private static int[] ByteTokens(string s) =>
        Encoding.UTF8.GetBytes(s).Select(b => Vocab.TryGetTokenId($"<0x{b:X2}>", out int id) ? id : throw new InvalidOperationException()).ToArray();

    private static TextAccumulator New(IReadOnlyList<string> stops, int previousId = 400) =>
        new(Vocab.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: previousId), stops);

    [Fact]
    public void Multibyte_characters_split_across_tokens_are_never_emitted_in_pieces()
    {
        var text = New([]);
        var pieces = ByteTokens("a😀é中").Select(text.Append).ToList();
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        Assert.All(pieces, p => Assert.False(p.Length == 1 && char.IsSurrogate(p[0]), "a lone surrogate was emitted"));
        Assert.Equal("a😀é中", string.Concat(pieces));
        Assert.Equal("a😀é中", text.Text);
    }

    [Fact]
    public void Stop_sequence_spanning_tokens_is_found_when_it_completes()
    {
        var text = New(["END", "zz"]);
        foreach (int t in ByteTokens("abc EN")) text.Append(t);
        Assert.Null(text.MatchedStop);
        text.Append(ByteTokens("D")[0]);
        Assert.Equal("END", text.MatchedStop);
        Assert.Equal("abc END", text.Text);
    }

    [Fact]
    public void Text_after_a_stop_sequence_inside_one_token_is_cut()
    {
        // Token 403 is "▁Once" in stories260K's vocabulary (its README: "Once upon a time" = 1 403 407 261 378).
        var text = New(["Onc"]);
        Assert.Equal(" Once", text.Append(403));
        Assert.Equal("Onc", text.MatchedStop);
        Assert.Equal(" Onc", text.Text);
    }

    [Fact]
    public void Leading_space_is_dropped_only_right_after_BOS()
    {
        var afterBos = New([], previousId: Vocab.BosId);
        Assert.Equal("Once upon", string.Concat(ByteTokens(" Once upon").Select(afterBos.Append)));
        var afterText = New([]);
        Assert.Equal(" Once upon", string.Concat(ByteTokens(" Once upon").Select(afterText.Append)));
    }
}

/// <summary>Stop sequences left out (OpenAI) and streamed text held back while it may still become one.</summary>
public class TextAccumulatorStreamingTests
{
    private static readonly Tokenizer Vocab = LoadVocab();

    private static Tokenizer LoadVocab()
    {
        using var f = GgufFile.Open(EngineTestModels.Gguf);
        return Tokenizer.FromGguf(f);
    }

    private static int ByteToken(char c) => Vocab.TryGetTokenId($"<0x{(byte)c:X2}>", out int id) ? id : throw new InvalidOperationException();

    [Fact]
    public void Without_include_the_text_ends_before_the_stop_sequence()
    {
        var text = new TextAccumulator(Vocab.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: 400), ["END"], includeStopSequence: false);
        foreach (char c in "abc END tail") text.Append(ByteToken(c));
        Assert.Equal("END", text.MatchedStop);
        Assert.Equal("abc ", text.Text);
    }

    [Fact]
    public void Streamed_deltas_hold_back_a_possible_stop_start_and_never_send_stop_text()
    {
        var text = new TextAccumulator(Vocab.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: 400), ["END"], includeStopSequence: false);
        var deltas = new List<string>();
        foreach (char c in "an EN")
        {
            text.Append(ByteToken(c));
            deltas.Add(text.TakeDelta(final: false));
        }
        // "E", then "EN", could begin "END": held back, so only "an " goes out.
        Assert.Equal("an ", string.Concat(deltas));
        text.Append(ByteToken('D'));
        Assert.Equal("", text.TakeDelta(final: true));
        Assert.Equal("an ", text.Text);
    }

    [Fact]
    public void A_false_start_is_released_once_it_cannot_become_the_stop()
    {
        var text = new TextAccumulator(Vocab.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: 400), ["END"]);
        text.Append(ByteToken('E'));
        Assert.Equal("", text.TakeDelta(final: false));
        text.Append(ByteToken('X'));
        Assert.Equal("EX", text.TakeDelta(final: false));
        text.Append(ByteToken('E'));
        Assert.Equal("E", text.TakeDelta(final: true));
    }
}
