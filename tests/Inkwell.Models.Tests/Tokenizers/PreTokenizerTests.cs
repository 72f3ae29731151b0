using System.Globalization;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Models.Tests.Tokenizers;

public sealed class PreTokenizerTests
{
    private static string[] Split(string pattern, string text)
    {
        var words = new List<(int Start, int End)>();
        new PreTokenizer([pattern]).Split(text, 0, text.Length, words);
        return words.Select(w => text[w.Start..w.End]).ToArray();
    }

    [Fact]
    public void Gpt2_pattern_splits_contractions_words_numbers_and_spaces()
    {
        Assert.Equal(["Hello", "'s", " world", "  ", " 123", "!!"], Split(PreTokenizerPatterns.Gpt2, "Hello's world   123!!"));
    }

    [Fact]
    public void Llama3_pattern_groups_digits_by_three()
    {
        Assert.Equal(["123", "456", "7", " x"], Split(PreTokenizerPatterns.Llama3, "1234567 x"));
    }

    [Fact]
    public void Supplementary_characters_are_one_character_to_the_regex()
    {
        // [^\r\n\p{L}\p{N}]?\p{L}+ : the emoji is the optional non-letter in front of the letters.
        Assert.Equal(["🦙abc"], Split(PreTokenizerPatterns.Llama3, "🦙abc"));
        // U+1D400 MATHEMATICAL BOLD CAPITAL A is a letter (Lu), so it belongs to the word.
        Assert.Equal(["a\U0001D400b", " c"], Split(PreTokenizerPatterns.Llama3, "a\U0001D400b c"));
        Assert.Equal(["x", " 🦙🦙", " y"], Split(PreTokenizerPatterns.Gpt2, "x 🦙🦙 y"));
    }

    [Fact]
    public void Stand_ins_have_the_category_they_stand_for()
    {
        foreach (var category in Enum.GetValues<UnicodeCategory>().Where(c => c is not (UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned)))
        {
            Assert.Equal(category, CharUnicodeInfo.GetUnicodeCategory(PreTokenizer.StandIn(category)));
        }
    }

    private static string[] SplitLlama(string pattern, string text)
    {
        var words = new List<(int Start, int End)>();
        PreTokenizer.ForLlamaCpp([pattern]).Split(text, 0, text.Length, words);
        return words.Select(w => text[w.Start..w.End]).ToArray();
    }

    [Fact]
    public void Llama_cpp_categories_run_on_collapsed_text()
    {
        // llama.cpp collapses every letter to one class, so \p{Lu} takes lowercase letters too.
        Assert.Equal(["abcDÉF", " 1"], SplitLlama(@"\p{Lu}+", "abcDÉF 1"));
        // \d is ASCII in ECMAScript: Arabic-Indic digits are not digits to it.
        Assert.Equal(["12", "٣٤"], SplitLlama(@"\d+", "12٣٤"));
        // $ is the end of the piece, not also "before a final newline" as in .NET.
        Assert.Equal(["x\n"], SplitLlama("x$", "x\n"));
    }

    [Fact]
    public void Llama_cpp_classes_see_code_points_not_surrogates()
    {
        // afmoe's CJK class spans U+8C48-U+FAFF, which holds the surrogate range; llama.cpp sees 🦙 as one code point.
        Assert.Equal(["a🦙b"], SplitLlama("[\u8C48-\uFAFF]+", "a🦙b"));
        // deepseek-llm's letters above U+FFFF: matched as whole code points.
        Assert.Equal([" 𐐀𐐁", " x"], SplitLlama(@"\s?[𐐀-𐑏]+", " 𐐀𐐁 x"));
    }

    [Fact]
    public void Every_known_gguf_pre_tokenizer_compiles()
    {
        foreach (var family in PreTokenizerPatterns.Families)
        {
            Assert.Equal(family.Patterns.Length, PreTokenizer.ForLlamaCpp(family.Patterns).StageCount);
            Assert.All(family.Names, name => Assert.Same(family, PreTokenizerPatterns.ForGgufPre(name)));
        }
        Assert.Null(PreTokenizerPatterns.ForGgufPre("no-such-pre"));
    }
}
