namespace Inkwell.Templates;

/// <summary>
/// Limits that keep a hostile or buggy template from crashing or hanging the server, and the clock
/// strftime_now reads. The defaults are far above what real chat templates need.
/// </summary>
public sealed record TemplateOptions
{
    public static TemplateOptions Default { get; } = new();

    /// <summary>Most characters a render may produce (also bounds any single string the template builds).</summary>
    public int MaxOutputChars { get; init; } = 16 * 1024 * 1024;

    /// <summary>Deepest nesting of tags and expressions the parser accepts.</summary>
    public int MaxNestingDepth { get; init; } = 200;

    /// <summary>Deepest chain of macro calls (recursion) at render time.</summary>
    public int MaxCallDepth { get; init; } = 100;

    /// <summary>Most statements plus loop iterations one render may execute; stops runaway loops.</summary>
    public long MaxSteps { get; init; } = 5_000_000;

    /// <summary>Largest list range() or other builtins may create.</summary>
    public int MaxCollectionLength { get; init; } = 1_000_000;

    /// <summary>Clock for strftime_now (local time, like Hugging Face's).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
