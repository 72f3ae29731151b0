using Inkwell.Client.Registry;

namespace Inkwell.Cli.Commands;

/// <summary>`inkwell models`: the registry's models and where each is deployed (the default one starred).</summary>
public static class ModelsCommand
{
    private const string Help = """
        usage: inkwell models [--registry DIR]
        Lists the models in DIR/model_metadata.yaml and their deployments in DIR/model_deployments.yaml.
        DIR defaults to $INKWELL_REGISTRY, else the current directory.
        """;

    public static int Run(string[] args)
    {
        if (args.Contains("--help")) { Console.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string>());
        var dir = RegistryDirectory(a.String("registry"));
        a.EnsureAllUsed();
        Console.Out.Write(RegistryPrinter.Format(Load(dir)));
        return 0;
    }

    /// <summary>--registry, else $INKWELL_REGISTRY, else the current directory.</summary>
    public static string RegistryDirectory(string? flag) =>
        flag ?? (Environment.GetEnvironmentVariable("INKWELL_REGISTRY") is { Length: > 0 } env ? env : Directory.GetCurrentDirectory());

    /// <summary>Loads the registry; a bad file becomes one usage-style line naming file and entry.</summary>
    public static ModelRegistry Load(string dir)
    {
        try
        {
            return ModelRegistry.LoadFromDirectory(dir);
        }
        catch (RegistryLoadException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }
}
