using Inkwell.Engine;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Engine.Speculation;
using Inkwell.Models;
using Inkwell.Runtime.Threading;

namespace Inkwell.Cli.Commands;

/// <summary>`inkwell generate`: streams only the continuation to stdout, through the same engine the server uses.</summary>
public static class GenerateCommand
{
    private const string Help = """
        usage: inkwell generate [--model PATH] [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N] [--quantize Q]
                                [--temperature T] [--top-k K] [--top-p P] [--seed S] [--threads N]
                                [--speculate N] [--draft-model PATH]
        No --model: the embedded stories260K. No prompt: start from BOS. Temperature 0 = greedy.
        --speculate N drafts up to N tokens per step (prompt lookup, or --draft-model: same vocabulary, default N 5);
        the acceptance rate goes to stderr.
        """ + "\n" + ModelOptions.ModelHelp;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string>());
        string? modelPath = a.String("model", "m", "model-id");
        string? tokenizerPath = a.String("tokenizer");
        string prompt = a.String("prompt", "p") ?? "";
        int maxNew = a.Int("max-new-tokens", 256, "n");
        float temperature = a.Float("temperature", 1f);
        int topK = a.Int("top-k", 0);
        float topP = a.Float("top-p", 1f);
        ulong seed = (ulong)a.Int("seed", Environment.TickCount & int.MaxValue);
        int threads = a.Int("threads", ModelOptions.DefaultThreads, "t");
        string? quantize = a.String("quantize");
        string? draftPath = a.String("draft-model");
        int speculate = a.Int("speculate", draftPath is null ? 0 : 5);
        a.EnsureAllUsed();
        if (speculate < 0) throw new UsageException("--speculate must not be negative");
        if (draftPath is not null && speculate == 0) throw new UsageException("--draft-model needs --speculate > 0");
        if (maxNew <= 0) throw new UsageException("--max-new-tokens must be positive");
        if (temperature < 0) throw new UsageException("--temperature must not be negative");

        using var loaded = ModelOptions.Open(modelPath, tokenizerPath, quantize);
        var tokenizer = loaded.Tokenizer;
        tokenizer.RequireText(); // a placeholder vocabulary cannot print what it generates
        using var pool = new WorkerPool(threads);
        var model = loaded.CreateModel(pool);
        var promptTokens = prompt.Length == 0 ? new List<int> { tokenizer.BosId } : tokenizer.EncodeToIds(prompt).ToList();
        int room = loaded.Config.ContextLength - promptTokens.Count;
        if (room <= 0) throw new ArgumentException($"the prompt's {promptTokens.Count} tokens fill the context of {loaded.Config.ContextLength}");
        maxNew = Math.Min(maxNew, room);

        using var draft = draftPath is null ? null : ModelOptions.Open(draftPath, null);
        await using var engine = new InferenceEngine(model, tokenizer, new EngineOptions
        {
            Speculation = speculate == 0 ? null : new SpeculationOptions
            {
                MaxDraftTokens = speculate,
                DraftModel = draft?.CreateModel(pool),
                DraftTokenizer = draft?.Tokenizer,
            },
            KvCacheTokens = promptTokens.Count + maxNew,
            Scheduler = new Engine.Scheduling.SchedulerOptions { MaxBatchTokens = Math.Max(512, promptTokens.Count) },
        });
        var sampling = temperature == 0f ? SamplingParameters.Greedy
            : new SamplingParameters { DoSample = true, Temperature = temperature, TopK = topK, TopP = topP, Seed = seed };
        var events = engine.Submit(new GenerationRequest
        {
            PromptTokens = promptTokens,
            Sampling = sampling,
            Stopping = new StoppingParameters { MaxNewTokens = maxNew },
        });
        var stdout = Console.Out;
        await foreach (var e in events.ReadAllAsync())
        {
            switch (e)
            {
                case TokenGenerated t when !t.Token.Special:
                    stdout.Write(t.Token.Text);
                    stdout.Flush();
                    break;
                case GenerationFailed f:
                    throw new InvalidOperationException(f.Message);
            }
        }
        stdout.WriteLine();
        if (speculate > 0)
        {
            var stats = engine.Stats;
            Console.Error.WriteLine($"inkwell: speculation accepted {stats.SpecAcceptedTokens} of {stats.SpecDraftedTokens} draft tokens" +
                (stats.SpecDraftedTokens > 0 ? $" ({100.0 * stats.SpecAcceptedTokens / stats.SpecDraftedTokens:F1}%)" : ""));
        }
        return 0;
    }
}
