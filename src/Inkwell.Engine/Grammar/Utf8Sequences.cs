using System.Text;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// Splits a code point range into UTF-8 byte-range sequences, e.g. U+0080..U+07FF becomes [C2-DF][80-BF].
/// Same idea as Rust's regex-syntax utf8 module: split at encoding-length boundaries, then wherever the
/// continuation bytes would not span their full 80-BF range. Surrogates are skipped (they are not valid UTF-8).
/// </summary>
internal static class Utf8Sequences
{
    public readonly record struct ByteRange(byte Lo, byte Hi);

    public static void Split(int lo, int hi, List<ByteRange[]> output)
    {
        if (lo > hi) return;
        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            Split(lo, 0xD7FF, output);
            Split(0xE000, hi, output);
            return;
        }
        foreach (int boundary in (ReadOnlySpan<int>)[0x7F, 0x7FF, 0xFFFF])
        {
            if (lo <= boundary && hi > boundary)
            {
                Split(lo, boundary, output);
                Split(boundary + 1, hi, output);
                return;
            }
        }
        if (hi <= 0x7F)
        {
            output.Add([new ByteRange((byte)lo, (byte)hi)]);
            return;
        }
        for (int i = 1; i < 4; i++)
        {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m))
            {
                if ((lo & m) != 0)
                {
                    Split(lo, lo | m, output);
                    Split((lo | m) + 1, hi, output);
                    return;
                }
                if ((hi & m) != m)
                {
                    Split(lo, (hi & ~m) - 1, output);
                    Split(hi & ~m, hi, output);
                    return;
                }
            }
        }
        Span<byte> a = stackalloc byte[4];
        Span<byte> b = stackalloc byte[4];
        int n = Encode(lo, a);
        Encode(hi, b);
        var seq = new ByteRange[n];
        for (int k = 0; k < n; k++) seq[k] = new ByteRange(a[k], b[k]);
        output.Add(seq);
    }

    private static int Encode(int cp, Span<byte> dst) => new Rune(cp).EncodeToUtf8(dst);
}
