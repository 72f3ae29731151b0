namespace Inkwell.TestSupport;

/// <summary>Finds the repository root (the folder holding Inkwell.slnx) and ../shared beside it.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>../shared beside the repository (models, vocabularies, templates from outside the project).</summary>
    public static string Shared { get; } = Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static bool HasShared => Directory.Exists(Shared);

    public static string EmbeddedModelDir => Path.Combine(Root, "models", "stories260K");

    /// <summary>
    /// The embedded model's author's greedy output from BOS, 256 tokens (llama2.c doc/stories260K.md), without the final
    /// newline: the external golden text every layer's tests compare against.
    /// </summary>
    public static string GoldenGreedyText { get; } = File.ReadAllText(Path.Combine(EmbeddedModelDir, "greedy-256-from-bos.txt")).TrimEnd('\n');

    public static string InRoot(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string InShared(params string[] parts) => Path.Combine([Shared, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Inkwell.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("Could not find Inkwell.slnx above " + AppContext.BaseDirectory);
    }
}
