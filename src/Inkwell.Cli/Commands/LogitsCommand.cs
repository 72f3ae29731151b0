using System.Globalization;
using Inkwell.Models;
using Inkwell.Runtime.Threading;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell logits`: a model's logits for token ids, in the JSON shape of llama.cpp's shared/tools/llama-logits
/// (arch, n_vocab, tokens, logits of every position with the ids evaluated as one batch, greedy continuation), so the
/// two engines compare number for number. Needs no tokenizer: llama.cpp's test models with a placeholder vocabulary run.
/// </summary>
public static class LogitsCommand
{
    private const string Help = """
        usage: inkwell logits --model PATH --tokens 1,2,3 [--greedy N] [--threads N]
        Prints {"arch", "n_vocab", "tokens", "logits": [[n_vocab floats] per position], "greedy": [N ids]}.
        """;

    public static int Run(string[] args, TextWriter stdout)
    {
        if (args.Contains("--help")) { stdout.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string>());
        string modelPath = a.String("model", "m") ?? throw new UsageException("--model is required");
        string list = a.String("tokens") ?? throw new UsageException("--tokens is required (comma-separated ids)");
        int greedyCount = a.Int("greedy", 0);
        int threads = a.Int("threads", ModelOptions.DefaultThreads, "t");
        a.EnsureAllUsed();
        if (greedyCount < 0) throw new UsageException("--greedy must not be negative");
        var tokens = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id))
                throw new UsageException($"--tokens: '{part}' is not a token id");
            tokens.Add(id);
        }

        using var loaded = ModelOptions.Open(modelPath, null);
        using var pool = new WorkerPool(threads);
        var model = loaded.CreateModel(pool);
        var (logits, greedy) = TokenLogits.Evaluate(model, tokens, greedyCount);

        // llama-logits prints with %.9g: enough digits to round-trip a float.
        var inv = CultureInfo.InvariantCulture;
        stdout.Write($"{{\"arch\": \"{loaded.Config.Architecture}\", \"n_vocab\": {loaded.Config.VocabSize}, \"tokens\": [");
        stdout.Write(string.Join(", ", tokens));
        stdout.Write("],\n\"logits\": [\n");
        for (int i = 0; i < logits.Length; i++)
        {
            stdout.Write('[');
            stdout.Write(string.Join(',', logits[i].Select(v => v.ToString("G9", inv))));
            stdout.Write(i + 1 < logits.Length ? "],\n" : "]\n");
        }
        stdout.Write("],\n\"greedy\": [");
        stdout.Write(string.Join(", ", greedy));
        stdout.Write("]}\n");
        return 0;
    }
}
