namespace Inkwell.Runtime.Kernels;

/// <summary>Blocking arithmetic the kernels' loop nests share (column blocks, panels).</summary>
internal static class EvenSplit
{
    /// <summary>
    /// The piece that cuts <paramref name="total"/> (positive) into the fewest pieces of at most
    /// <paramref name="most"/>, all equal but the last, in whole <paramref name="multiple"/>s: 288 at most 128 in 16s
    /// is 96 (three of 96 rather than 128 + 128 + 32). <paramref name="most"/> must be a multiple of
    /// <paramref name="multiple"/>, so the piece never exceeds it.
    /// </summary>
    public static int Piece(int total, int most, int multiple)
    {
        int pieces = (total + most - 1) / most;
        return ((total + pieces - 1) / pieces + multiple - 1) / multiple * multiple;
    }
}
