using Inkwell.Models.Decoder;
using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Decoder;

/// <summary>Routing checks of the forward pass that the llama.cpp fixtures cannot make (their bases coincide).</summary>
public sealed class DecoderModelTests
{
    [SharedFact]
    public void Sliding_layers_rotate_with_their_own_base_exactly_as_a_model_with_that_base_everywhere()
    {
        // Gemma 3 with every layer sliding: a separate sliding base of 500 must give the same logits, bit for bit, as
        // the global base set to 500 (one table); and differ from leaving the base at 10000.
        using var f = GgufFile.Open(RepoPaths.InShared("arch-models", "gemma3-dense.gguf"));
        var c = GgufDecoderLoader.ReadConfig(f);
        var weights = GgufDecoderLoader.ReadWeights(f, c);
        var allSliding = c with { SlidingLayers = Enumerable.Repeat(true, c.LayerCount).ToArray() };
        int[] tokens = [5, 17, 99, 3, 64, 21, 8, 120, 45, 2, 77, 31];
        float[] Logits(ModelConfig config)
        {
            using var pool = new WorkerPool(1);
            var model = new DecoderModel(config, weights, pool);
            return TokenLogits.Evaluate(model, tokens, 0).Logits.SelectMany(r => r).ToArray();
        }
        var ownBase = Logits(allSliding with { RopeTheta = 10000f, RopeThetaSliding = 500f });
        var globalBase = Logits(allSliding with { RopeTheta = 500f, RopeThetaSliding = 0f });
        var unchanged = Logits(allSliding with { RopeTheta = 10000f, RopeThetaSliding = 0f });
        Assert.Equal(globalBase, ownBase);
        Assert.NotEqual(unchanged, ownBase);
    }
}
