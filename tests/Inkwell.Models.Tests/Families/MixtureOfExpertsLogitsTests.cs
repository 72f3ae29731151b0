using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Families;

/// <summary>
/// The mixture-of-experts variants that llama.cpp's test-llama-archs writes (shared/arch-models): a Mixtral-style
/// llama, qwen3moe, and granite with experts and a shared expert, against llama.cpp's logits and greedy continuation,
/// with the same bars as the dense families (<see cref="FamilyLogitsTests"/>). The NMSE is printed per model.
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
}
