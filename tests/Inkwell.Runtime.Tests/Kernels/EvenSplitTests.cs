using Inkwell.Runtime.Kernels;

namespace Inkwell.Runtime.Tests.Kernels;

public sealed class EvenSplitTests
{
    [Theory]
    [InlineData(288, 128, 16, 96)]   // three even column blocks, not 128 + 128 + 32
    [InlineData(896, 256, 32, 224)]  // four 224-column blocks of whole 32-column scale blocks
    [InlineData(96, 64, 16, 48)]     // two panels of three vectors, not 64 + 32
    [InlineData(100, 64, 16, 64)]    // 50 rounds up to whole vectors: 64 + 36
    [InlineData(2048, 4096, 64, 2048)] // fits in one
    [InlineData(5632, 4096, 64, 2816)]
    [InlineData(1, 128, 16, 16)]
    public void Piece_is_the_fewest_even_pieces_in_whole_multiples(int total, int most, int multiple, int expected)
    {
        int piece = EvenSplit.Piece(total, most, multiple);
        Assert.Equal(expected, piece);
        Assert.Equal(0, piece % multiple);
        Assert.True(piece <= most);
        Assert.Equal((total + most - 1) / most, (total + piece - 1) / piece); // no more pieces than the fewest
    }
}
