using System.Globalization;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Code point classes as llama.cpp's unicode.cpp defines them (its flags come from UnicodeData.txt categories;
/// here from .NET's copy of the same data), and the one-char-per-code-point "collapsed" alphabet its generic regex
/// path runs on: ASCII stays itself, other whitespace becomes \v, everything else the marker of its category.
/// </summary>
internal static class UnicodeClass
{
    public const char CollapsedOther = '\u00D0';
    public const char CollapsedNumber = '\u00D1';
    public const char CollapsedLetter = '\u00D2';
    public const char CollapsedPunctuation = '\u00D3';
    public const char CollapsedMark = '\u00D4';
    public const char CollapsedSymbol = '\u00D5';

    /// <summary>Unicode White_Space, the set llama.cpp's \s and its splitters use.</summary>
    public static bool IsWhitespace(int cp) =>
        cp is (>= 0x09 and <= 0x0D) or 0x20 or 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A)
            or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;

    public static bool IsLetter(int cp) => Collapse(cp, keepAscii: false) == CollapsedLetter;
    public static bool IsNumber(int cp) => Collapse(cp, keepAscii: false) == CollapsedNumber;
    public static bool IsPunctuation(int cp) => Collapse(cp, keepAscii: false) == CollapsedPunctuation;
    public static bool IsSymbol(int cp) => Collapse(cp, keepAscii: false) == CollapsedSymbol;
    public static bool IsMark(int cp) => Collapse(cp, keepAscii: false) == CollapsedMark;

    /// <summary>Cc, Cf, Co, Cs: llama.cpp's CONTROL flag.</summary>
    public static bool IsControl(int cp) => Category(cp) is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    /// <summary>The collapsed character for a code point (whitespace is tested before the category, as llama.cpp does).</summary>
    public static char Collapse(int cp) => Collapse(cp, keepAscii: true);

    private static char Collapse(int cp, bool keepAscii)
    {
        if (keepAscii && cp < 128) return (char)cp;
        if (keepAscii && IsWhitespace(cp)) return '\v';
        return Category(cp) switch
        {
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CollapsedNumber,
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CollapsedLetter,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => CollapsedPunctuation,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => CollapsedMark,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => CollapsedSymbol,
            _ => CollapsedOther,
        };
    }

    private static UnicodeCategory Category(int cp) =>
        (uint)cp <= 0x10FFFF ? CharUnicodeInfo.GetUnicodeCategory(cp) : UnicodeCategory.OtherNotAssigned;

    /// <summary>CJK ideographs (unified, extensions A-F, compatibility): llama.cpp's unicode_cpt_is_han.</summary>
    public static bool IsHan(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0x2CEB0 and <= 0x2EBEF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
