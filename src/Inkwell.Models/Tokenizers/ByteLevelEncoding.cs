namespace Inkwell.Models.Tokenizers;

/// <summary>
/// GPT-2's reversible byte-to-character map: printable Latin-1 bytes stand for themselves, the other
/// 68 bytes take U+0100.. in byte order, so every byte string becomes a string of visible characters.
/// </summary>
internal static class ByteLevelEncoding
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>The byte a byte-level character stands for, or -1 when the character is not part of the map.</summary>
    public static int Decode(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    private static bool IsPrintable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = IsPrintable(b) ? (char)b : (char)next++;
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[256 + 68];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }
}
