using System.Diagnostics;
using Inkwell.Models.Gguf;
using Inkwell.Runtime.Quantization;

namespace Inkwell.Cli.Commands;

/// <summary>`inkwell quantize IN OUT TYPE`: a GGUF file re-encoded as llama-quantize would (same rules, same bytes).</summary>
public static class QuantizeCommand
{
    private static readonly string Help = $"""
        usage: inkwell quantize IN.gguf OUT.gguf TYPE [--verbose]
        TYPE: {QuantizationScheme.SupportedNames} (q4_k is llama-quantize's Q4_K_M mixture). f32, f16 and bf16 weights are
        re-encoded as llama-quantize does without an importance matrix; norms and other 1-D tensors stay as they are.
        """;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        var a = new ArgReader(args.Where(x => x.StartsWith("--", StringComparison.Ordinal)), new HashSet<string> { "verbose" });
        bool verbose = a.Flag("verbose");
        a.EnsureAllUsed();
        if (positional.Length != 3) throw new UsageException($"expected IN OUT TYPE\n{Help}");
        var scheme = QuantizationScheme.Parse(positional[2]);
        if (!File.Exists(positional[0])) throw new FileNotFoundException($"{positional[0]}: file not found", positional[0]);
        if (!GgufFile.LooksLikeGguf(positional[0])) throw new InvalidDataException($"{positional[0]}: not a GGUF file (convert it first)");

        var clock = Stopwatch.StartNew();
        var plan = GgufQuantizer.Quantize(positional[0], positional[1], scheme, verbose ? Console.Error.WriteLine : null);
        var counts = plan.Targets.Values.GroupBy(t => t).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}");
        Console.Error.WriteLine($"inkwell quantize: wrote {positional[1]} ({new FileInfo(positional[1]).Length / 1048576.0:F1} MiB; tensors: {string.Join(", ", counts)}) in {clock.Elapsed.TotalSeconds:F1}s");
        return 0;
    }
}
