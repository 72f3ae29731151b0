using System.Diagnostics;
using System.Text.Json;
using Inkwell.Models;
using Inkwell.Runtime.Threading;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell bench`: like llama-bench, prompt processing (one forward of -p tokens) and text generation (-n single-token
/// forwards) measured separately, -r repetitions after one warm-up, tokens/s as mean ± sd.
/// </summary>
public static class BenchCommand
{
    private const string Help = """
        usage: inkwell bench [--model PATH] [-p 128] [-n 128] [-r 5] [--threads N] [--json] [--quantize Q]
        """ + "\n" + ModelOptions.ModelHelp;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string> { "json" });
        string? modelPath = a.String("model", "m");
        int promptTokens = a.Int("p", 128, "n-prompt");
        int genTokens = a.Int("n", 128, "n-gen");
        int reps = a.Int("r", 5, "repetitions");
        int threads = a.Int("threads", ModelOptions.DefaultThreads, "t");
        bool json = a.Flag("json");
        string? quantize = a.String("quantize");
        a.EnsureAllUsed();
        if (promptTokens < 0 || genTokens < 0 || reps <= 0) throw new UsageException("-p and -n must be >= 0 and -r positive");

        using var loaded = ModelOptions.Open(modelPath, null, quantize);
        using var pool = new WorkerPool(threads);
        var model = loaded.CreateModel(pool);
        int context = Math.Min(loaded.Config.ContextLength, Math.Max(promptTokens, genTokens) + 1);
        var (kv, table) = model.CreateSequenceCache(context);
        var rng = new Random(42);
        int vocab = loaded.Config.VocabSize;
        long rss0 = Process.GetCurrentProcess().WorkingSet64;

        double[] RunPp()
        {
            var tokens = Enumerable.Range(0, promptTokens).Select(_ => rng.Next(vocab)).ToArray();
            var result = new double[reps];
            for (int r = -1; r < reps; r++)
            {
                var sw = Stopwatch.StartNew();
                model.Forward([new SequenceChunk(tokens, 0, table)], kv);
                if (r >= 0) result[r] = promptTokens / sw.Elapsed.TotalSeconds;
            }
            return result;
        }
        double[] RunTg()
        {
            var result = new double[reps];
            var one = new int[1];
            for (int r = -1; r < reps; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int pos = 0; pos < genTokens; pos++)
                {
                    one[0] = rng.Next(vocab);
                    model.Forward([new SequenceChunk(one, pos, table)], kv);
                }
                if (r >= 0) result[r] = genTokens / sw.Elapsed.TotalSeconds;
            }
            return result;
        }

        var pp = promptTokens > 0 ? RunPp() : [];
        var tg = genTokens > 0 ? RunTg() : [];
        long rss = Process.GetCurrentProcess().PeakWorkingSet64;
        var (ppMean, ppSd) = Stats(pp);
        var (tgMean, tgSd) = Stats(tg);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = loaded.Path,
                weights_type = loaded.Weights.Layers[0].Wq.Weight.Type.ToString(),
                threads,
                n_prompt = promptTokens,
                n_gen = genTokens,
                repetitions = reps,
                pp_tps = ppMean,
                pp_tps_sd = ppSd,
                tg_tps = tgMean,
                tg_tps_sd = tgSd,
                weight_bytes = loaded.Weights.WeightBytes,
                kv_bytes = kv.Bytes,
                peak_rss_bytes = rss,
                rss_before_bytes = rss0,
            }));
        }
        else
        {
            Console.WriteLine($"| model | type | threads | test | t/s |");
            Console.WriteLine($"| --- | --- | ---: | --- | ---: |");
            string name = Path.GetFileName(loaded.Path);
            string type = loaded.Weights.Layers[0].Wq.Weight.Type.ToString();
            if (pp.Length > 0) Console.WriteLine($"| {name} | {type} | {threads} | pp{promptTokens} | {ppMean:F2} ± {ppSd:F2} |");
            if (tg.Length > 0) Console.WriteLine($"| {name} | {type} | {threads} | tg{genTokens} | {tgMean:F2} ± {tgSd:F2} |");
            Console.WriteLine($"peak RSS {rss / (1 << 20)} MiB, weights {loaded.Weights.WeightBytes / (1 << 20)} MiB, KV {kv.Bytes / (1 << 20)} MiB");
        }
        return 0;
    }

    private static (double Mean, double Sd) Stats(double[] xs)
    {
        if (xs.Length == 0) return (0, 0);
        double mean = xs.Average();
        double sd = xs.Length > 1 ? Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Length - 1)) : 0;
        return (mean, sd);
    }
}
