using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Families;

/// <summary>
/// The mixture-of-experts variants that llama.cpp's test-llama-archs writes (shared/arch-models): a Mixtral-style
/// llama, qwen3moe, and granite with experts and a shared expert, against llama.cpp's logits and greedy continuation,
/// with the same bars as the dense families (<see cref="FamilyLogitsTests"/>). Those models have two experts and use
/// both, so routing only weighs; the committed TopKMoe fixtures (made by TopKMoe/make-fixtures.py with llama.cpp's
/// logits) choose 2 of 8 per token, so selection itself is compared too. The NMSE is printed per model.
/// </summary>
public sealed class MixtureOfExpertsLogitsTests(ITestOutputHelper output)
{
    public static TheoryData<string> MoeModels => new() { "llama-moe", "qwen3moe-moe", "granite-moe" };

    [SharedTheory]
    [MemberData(nameof(MoeModels))]
    public void F32_logits_and_greedy_continuation_match_llama_cpp(string model)
    {
        var (nmse, greedy, expectedGreedy) = FamilyLogitsTests.Compare(model);
        output.WriteLine($"{model} f32: NMSE {nmse:E2}, greedy {string.Join(",", greedy)}");
        Assert.True(nmse <= 1e-5, $"{model}: NMSE {nmse:E3} exceeds 1e-5");
        Assert.Equal(expectedGreedy, greedy);
    }

    [SharedTheory]
    [MemberData(nameof(MoeModels))]
    public void Q8_0_logits_match_llama_cpp(string model)
    {
        var (nmse, _, _) = FamilyLogitsTests.Compare($"{model}-q8_0");
        output.WriteLine($"{model} q8_0: NMSE {nmse:E2}");
        Assert.True(nmse <= 1e-3, $"{model} q8_0: NMSE {nmse:E3} exceeds 1e-3");
    }

    public static TheoryData<string> TopKModels => new() { "qwen3moe-top2of8", "mixtral-top2of8", "granite-top2of8", "qwen2moe-top2of8" };

    [Theory]
    [MemberData(nameof(TopKModels))]
    public void Two_of_eight_experts_match_llama_cpp(string model)
    {
        var (nmse, greedy, expectedGreedy) = FamilyLogitsTests.CompareAt(RepoPaths.InRoot("tests", "Inkwell.Models.Tests", "Families", "TopKMoe", model));
        output.WriteLine($"{model} f32: NMSE {nmse:E2}, greedy {string.Join(",", greedy)}");
        Assert.True(nmse <= 1e-5, $"{model}: NMSE {nmse:E3} exceeds 1e-5");
        Assert.Equal(expectedGreedy, greedy);
    }
}
