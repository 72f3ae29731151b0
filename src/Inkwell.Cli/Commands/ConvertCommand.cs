using Inkwell.Models.PyTorch;

namespace Inkwell.Cli.Commands;

/// <summary>`inkwell convert-to-safetensors DIR`: TGIS's command, PyTorch .bin weights to safetensors beside them.</summary>
public static class ConvertCommand
{
    private const string Help = """
        usage: inkwell convert-to-safetensors DIR
        Converts DIR's pytorch_model.bin (or the shards in pytorch_model.bin.index.json) to model.safetensors
        (model-0000i-of-0000N.safetensors with model.safetensors.index.json for shards). The checkpoint's pickle is
        read by a restricted reader that accepts tensors and dictionaries only and never runs code from the file.
        """;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        if (args.Length != 1 || args[0].StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"expected one directory\n{Help}");
        var written = PyTorchCheckpointConverter.ConvertDirectory(args[0], line => Console.Error.WriteLine($"inkwell convert-to-safetensors: {line}"));
        foreach (var path in written) Console.WriteLine(path);
        return 0;
    }
}
