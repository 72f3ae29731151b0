using System.Text.RegularExpressions;

namespace Inkwell.Models.Hub;

/// <summary>
/// A model named on the Hub: `org/name`, optionally `@revision` (branch, tag or commit) and, for GGUF repositories,
/// `:QUANT` choosing one file by its quantization tag as llama.cpp's `-hf org/name:Q4_K_M` does.
/// </summary>
public sealed partial record HubModelId(string Repository, string Revision, string? QuantTag)
{
    public const string DefaultRevision = "main";

    /// <summary>Parses <paramref name="text"/>; <paramref name="revision"/> (--revision) may name the revision
    /// instead of `@`, but not a different one.</summary>
    public static bool TryParse(string text, string? revision, out HubModelId id)
    {
        id = null!;
        var m = Pattern().Match(text);
        if (!m.Success) return false;
        string? inline = m.Groups["rev"].Success ? m.Groups["rev"].Value : null;
        if (inline is not null && revision is not null && inline != revision)
            throw new ArgumentException($"{text}: names revision '{inline}' but --revision says '{revision}'");
        id = new HubModelId(m.Groups["repo"].Value, inline ?? revision ?? DefaultRevision, m.Groups["tag"].Success ? m.Groups["tag"].Value : null);
        return true;
    }

    public override string ToString() =>
        Repository + (Revision == DefaultRevision ? "" : "@" + Revision) + (QuantTag is null ? "" : ":" + QuantTag);

    // The Hub's repository names: letters, digits, '-', '_', '.'; one namespace. A git ref cannot hold ':'.
    [GeneratedRegex(@"^(?<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?<rev>[^:@\s]+))?(?::(?<tag>[\w.-]+))?$")]
    private static partial Regex Pattern();
}
