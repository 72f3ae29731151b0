using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

public sealed class VocabConformanceTests
{
    public static IEnumerable<object[]> Cases() => VocabSuites.AllCases();

    public static IEnumerable<object[]> LosslessCases() => VocabSuites.AllCases(VocabSuites.IsLossless);

    [SharedFact]
    public void Every_required_suite_is_present()
    {
        Assert.Empty(VocabSuites.Required.Except(VocabSuites.Names));
    }

    [SharedTheory]
    [MemberData(nameof(Cases))]
    public void Encode_matches_reference_ids(string suite, int index)
    {
        var (text, expected) = VocabSuites.Load(suite)[index];
        var ids = VocabSuites.Tokenizer(suite).EncodeToIds(text, addSpecialTokens: false, parseSpecialTokens: false);
        Assert.Equal(expected, ids);
    }

    [SharedTheory]
    [MemberData(nameof(LosslessCases))]
    public void Decode_of_reference_ids_gives_back_the_text(string suite, int index)
    {
        var (text, expected) = VocabSuites.Load(suite)[index];
        Assert.Equal(text, VocabSuites.Tokenizer(suite).Decode(expected));
    }

    [SharedTheory]
    [MemberData(nameof(LosslessCases))]
    public void Decode_of_encode_round_trips(string suite, int index)
    {
        var (text, _) = VocabSuites.Load(suite)[index];
        var tokenizer = VocabSuites.Tokenizer(suite);
        Assert.Equal(text, tokenizer.Decode(tokenizer.EncodeToIds(text, addSpecialTokens: true), skipSpecialTokens: true));
    }
}
