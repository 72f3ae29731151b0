using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Models.Llama;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Llama;

public class ScratchTest(ITestOutputHelper output)
{
    [Fact]
    public void Scratch()
    {
        var path = Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");
        var f = GgufFile.Open(path);
        var c = GgufLlamaLoader.ReadConfig(f);
        var w = GgufLlamaLoader.ReadWeights(f, c);
        var tokens = f.Get<string[]>("tokenizer.ggml.tokens");
        foreach (var (name, cfg, wts) in new[] { ("gguf", c, w), ("l2c", Llama2cLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin")).Config, Llama2cLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin")).Weights) })
        {
            using var pool = new WorkerPool(1);
            var model = new LlamaModel(cfg, wts, pool);
            var kv = model.CreateKvCache(16, 32);
            var table = Enumerable.Range(0, 32).ToArray();
            int tok = 1;
            var sb = new System.Text.StringBuilder();
            for (int pos = 0; pos < 256; pos++)
            {
                var logits = model.Forward([new SequenceChunk(new[] { tok }, pos, table)], kv);
                int best = 0;
                for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                tok = best;
                sb.Append(tokens[tok]);
            }
            output.WriteLine(name + ": " + sb.ToString().Replace("▁", " ").Replace("<0x0A>", "\n"));
        }
    }
}
