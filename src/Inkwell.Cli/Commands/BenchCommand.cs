using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Inkwell.Models;
using Inkwell.Runtime.Threading;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell bench`: like llama-bench, prompt processing (one forward of -p tokens) and text generation (-n single-token
/// forwards) measured separately, -r repetitions after one warm-up, tokens/s as mean ± sd. `--bandwidth` instead
/// measures memory read bandwidth (the ceiling of decode speed, which streams every weight once per token).
/// </summary>
public static class BenchCommand
{
    private const string Help = """
        usage: inkwell bench [--model PATH] [-p 128] [-n 128] [-r 5] [--threads N] [--json] [--quantize Q]
               inkwell bench --bandwidth [--size-mb 1024] [-r 10] [--threads N] [--json]
                 read bandwidth of a vectorized sum over SIZE MiB with 1 thread and with N threads, best of r passes
        """ + "\n" + ModelOptions.ModelHelp;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string> { "json", "bandwidth" });
        if (a.Flag("bandwidth")) return RunBandwidth(a);
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

    private static unsafe int RunBandwidth(ArgReader a)
    {
        int sizeMb = a.Int("size-mb", 1024);
        int reps = a.Int("r", 10, "repetitions");
        int maxThreads = a.Int("threads", ModelOptions.DefaultThreads, "t");
        bool json = a.Flag("json");
        a.EnsureAllUsed();
        if (sizeMb < 64 || reps <= 0 || maxThreads <= 0)
            throw new UsageException("--size-mb must be >= 64 (far beyond any cache), -r and --threads positive");

        nuint bytes = (nuint)sizeMb << 20;
        var data = (float*)NativeMemory.AlignedAlloc(bytes, 4096);
        var sums = (float*)NativeMemory.AlignedAlloc((nuint)(sizeMb * sizeof(float)), 64);
        try
        {
            new Span<float>(data, (int)(bytes / sizeof(float))).Fill(1f); // touches every page before timing
            var results = new List<(int Threads, double GbPerS)>();
            foreach (int threads in maxThreads > 1 ? new[] { 1, maxThreads } : [1])
            {
                using var pool = new WorkerPool(threads);
                var body = new SumBody(data, sums);
                pool.Run(sizeMb, ref body); // warm-up: JIT, worker start
                double best = double.MaxValue;
                for (int r = 0; r < reps; r++)
                {
                    var sw = Stopwatch.StartNew();
                    pool.Run(sizeMb, ref body);
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                float total = 0;
                for (int i = 0; i < sizeMb; i++) total += sums[i];
                // Every element is 1, so the sum proves the whole buffer was read (and keeps the loads alive).
                if (total != (float)(bytes / sizeof(float))) throw new InvalidOperationException($"bandwidth sum {total} is wrong");
                results.Add((threads, bytes / best / 1e9));
            }
            if (json)
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    size_bytes = (long)bytes,
                    repetitions = reps,
                    read_gb_per_s = results.ToDictionary(r => r.Threads.ToString(), r => r.GbPerS),
                }));
            else
                foreach (var (threads, gbPerS) in results)
                    Console.WriteLine($"read bandwidth, {threads} thread{(threads > 1 ? "s" : "")}: {gbPerS:F1} GB/s (best of {reps} over {sizeMb} MiB)");
            return 0;
        }
        finally
        {
            NativeMemory.AlignedFree(data);
            NativeMemory.AlignedFree(sums);
        }
    }

    /// <summary>Sums 1 MiB blocks [start, end) of the buffer; four accumulators keep enough loads in flight.</summary>
    private readonly unsafe struct SumBody(float* data, float* sums) : IRangeBody
    {
        public void Invoke(int start, int end)
        {
            int perBlock = (1 << 20) / sizeof(float);
            for (int block = start; block < end; block++)
            {
                float* p = data + (long)block * perBlock;
                Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
                int step = Vector<float>.Count * 4, i = 0;
                for (; i + step <= perBlock; i += step)
                {
                    s0 += Vector.Load(p + i);
                    s1 += Vector.Load(p + i + Vector<float>.Count);
                    s2 += Vector.Load(p + i + Vector<float>.Count * 2);
                    s3 += Vector.Load(p + i + Vector<float>.Count * 3);
                }
                float sum = Vector.Sum(s0 + s1 + s2 + s3);
                for (; i < perBlock; i++) sum += p[i];
                sums[block] = sum;
            }
        }
    }

    private static (double Mean, double Sd) Stats(double[] xs)
    {
        if (xs.Length == 0) return (0, 0);
        double mean = xs.Average();
        double sd = xs.Length > 1 ? Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Length - 1)) : 0;
        return (mean, sd);
    }
}
