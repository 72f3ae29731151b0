using System.Text;
using Inkwell.Engine.Decoding;

namespace Inkwell.Engine.Tests.Decoding;

public class TextAccumulatorTests
{
    [Fact]
    public void Multibyte_characters_split_across_tokens_are_never_emitted_in_pieces()
    {
        var text = new TextAccumulator([], stripLeadingSpace: false);
        var bytes = Encoding.UTF8.GetBytes("a😀é中");
        var pieces = bytes.Select(b => text.Append([b])).ToList();
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        Assert.All(pieces, p => Assert.False(p.Length == 1 && char.IsSurrogate(p[0]), "a lone surrogate was emitted"));
        Assert.Equal("a😀é中", string.Concat(pieces));
        Assert.Equal("a😀é中", text.Text);
    }

    [Fact]
    public void Stop_sequence_spanning_tokens_cuts_after_it()
    {
        var text = new TextAccumulator(["END", "zz"], stripLeadingSpace: false);
        text.Append("abc E"u8);
        Assert.Null(text.MatchedStop);
        text.Append("NDxyz"u8);
        Assert.Equal("END", text.MatchedStop);
        Assert.Equal("abc END", text.Text);
    }

    [Fact]
    public void Leading_space_of_the_first_piece_is_dropped_only_when_asked()
    {
        var strip = new TextAccumulator([], stripLeadingSpace: true);
        Assert.Equal("Once", strip.Append(" Once"u8));
        Assert.Equal(" upon", strip.Append(" upon"u8));
        var keep = new TextAccumulator([], stripLeadingSpace: false);
        Assert.Equal(" Once", keep.Append(" Once"u8));
    }
}
