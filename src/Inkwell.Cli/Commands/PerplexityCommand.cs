using System.Globalization;
using Inkwell.Models;
using Inkwell.Runtime.Threading;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell perplexity`: llama-perplexity's method, so the two can be compared number for number. The text is tokenized
/// with BOS, cut into chunks of -c tokens (the first token of each chunk replaced by BOS), and only the second half of each
/// chunk is scored: PPL = exp(mean over those positions of -log p(next token)).
/// </summary>
public static class PerplexityCommand
{
    private const string Help = """
        usage: inkwell perplexity --model PATH --file TEXT [-c 512] [--chunks N] [--threads N] [--quantize q8_0|q4_0|q4_k|q6_k]
        Prints per-chunk running estimates and "Final estimate: PPL = x +/- y" as llama-perplexity does.
        """ + "\n" + ModelOptions.ModelHelp;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string>());
        string? modelPath = a.String("model", "m");
        string file = a.String("file", "f") ?? throw new UsageException("--file is required");
        int nCtx = a.Int("c", 512, "ctx-size");
        int maxChunks = a.Int("chunks", -1);
        int threads = a.Int("threads", ModelOptions.DefaultThreads, "t");
        string? quantize = a.String("quantize");
        a.EnsureAllUsed();

        using var loaded = ModelOptions.Open(modelPath, null, quantize);
        var tokenizer = loaded.Tokenizer;
        var tokens = tokenizer.EncodeToIds(File.ReadAllText(file)).ToArray();
        if (nCtx < 4 || nCtx > loaded.Config.ContextLength) throw new UsageException($"-c must be between 4 and the context length {loaded.Config.ContextLength}");
        if (tokens.Length < 2 * nCtx) throw new UsageException($"the text has {tokens.Length} tokens; -c {nCtx} needs at least {2 * nCtx}");
        int chunks = tokens.Length / nCtx;
        if (maxChunks > 0) chunks = Math.Min(chunks, maxChunks);

        using var pool = new WorkerPool(threads);
        var model = loaded.CreateModel(pool);
        var (kv, table) = model.CreateSequenceCache(nCtx);
        int vocab = loaded.Config.VocabSize;
        int first = nCtx / 2;
        double nll = 0, nll2 = 0;
        int count = 0;
        Console.WriteLine($"perplexity: {tokens.Length} tokens, {chunks} chunks of {nCtx}");
        for (int c = 0; c < chunks; c++)
        {
            var chunk = tokens.AsSpan(c * nCtx, nCtx).ToArray();
            if (tokenizer.AddBos) chunk[0] = tokenizer.BosId;
            var logits = model.Forward([new SequenceChunk(chunk, 0, table, LogitsWanted.All)], kv);
            for (int j = first; j < nCtx - 1; j++)
            {
                double v = -Engine.Sampling.Sampler.LogSoftmaxAt(logits.Slice(j * vocab, vocab), chunk[j + 1]);
                nll += v;
                nll2 += v * v;
                count++;
            }
            Console.Write(string.Create(CultureInfo.InvariantCulture, $"[{c + 1}]{Math.Exp(nll / count):F4},"));
        }
        Console.WriteLine();
        double mean = nll / count, mean2 = nll2 / count;
        double ppl = Math.Exp(mean);
        double err = count > 1 ? Math.Sqrt((mean2 - mean * mean) / (count - 1)) * ppl : 0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Final estimate: PPL = {ppl:F4} +/- {err:F5}"));
        return 0;
    }
}
