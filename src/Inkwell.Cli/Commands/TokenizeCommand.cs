using System.Text.Json;
using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Cli.Commands;

/// <summary>`inkwell tokenize`: token ids of stdin, space-separated; with --jsonl one JSON string in, one JSON array out, per line.</summary>
public static class TokenizeCommand
{
    private const string Help = """
        usage: inkwell tokenize [--model PATH] [--tokenizer PATH] [--no-bos] [--jsonl]   (reads stdin)
        PATH may be a vocab-only GGUF. --jsonl: each input line is a JSON string; each output line a JSON array of ids.
        """ + "\n" + ModelOptions.ModelHelp;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string> { "no-bos", "jsonl" });
        string? modelPath = a.String("model", "m");
        string? tokenizerPath = a.String("tokenizer");
        bool addBos = !a.Flag("no-bos");
        bool jsonl = a.Flag("jsonl");
        a.EnsureAllUsed();

        var tokenizer = OpenTokenizer(ModelOptions.Resolve(modelPath), tokenizerPath);
        var stdout = Console.Out;
        if (jsonl)
        {
            string? line;
            int lineNumber = 0;
            while ((line = Console.In.ReadLine()) is not null)
            {
                lineNumber++;
                if (line.Length == 0) continue;
                stdout.WriteLine(JsonSerializer.Serialize(tokenizer.EncodeToIds(JsonLine(line, lineNumber), addBos)));
            }
        }
        else
        {
            stdout.WriteLine(string.Join(' ', tokenizer.EncodeToIds(Console.In.ReadToEnd(), addBos)));
        }
        return 0;
    }

    /// <summary>One --jsonl input line as its string, or a clear error naming the line (never a stack trace).</summary>
    private static string JsonLine(string line, int lineNumber)
    {
        try
        {
            return JsonSerializer.Deserialize<string>(line) ?? throw new JsonException("null is not a string");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escape that is no code point (a lone surrogate) cannot become a string.
            throw new UsageException($"--jsonl line {lineNumber} is not a JSON string ({e.Message})");
        }
    }

    /// <summary>Only the vocabulary is needed: a GGUF (even vocab-only) is read without its weights.</summary>
    private static Tokenizer OpenTokenizer(string modelPath, string? tokenizerPath)
    {
        if (tokenizerPath is null && File.Exists(modelPath) && GgufFile.LooksLikeGguf(modelPath))
        {
            using var f = GgufFile.Open(modelPath);
            return Tokenizer.FromGguf(f);
        }
        using var loaded = ModelLoader.Load(modelPath, tokenizerPath);
        return loaded.Tokenizer;
    }
}
