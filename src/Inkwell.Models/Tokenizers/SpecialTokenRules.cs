namespace Inkwell.Models.Tokenizers;

/// <summary>Conventions shared by the loaders for tokens the metadata does not label.</summary>
internal static class SpecialTokenRules
{
    /// <summary>
    /// Pieces that end a generation, as llama.cpp's vocabulary loader lists them (end-of-turn markers of the common chat
    /// formats, plus the fill-in-the-middle pad/repo/file-separator tokens it also stops on).
    /// </summary>
    public static readonly string[] EndOfGenerationPieces =
    [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
        "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
        "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<reponame>", "<|file_sep|>",
    ];

    /// <summary>
    /// The end-of-generation set: the given ids plus every vocabulary piece in <see cref="EndOfGenerationPieces"/>.
    /// Such pieces are made control tokens when the file typed them otherwise, as llama.cpp does. Its two exceptions
    /// hold too: with &lt;|return|&gt; and &lt;|call|&gt; (gpt-oss) or &lt;|calls|&gt; and &lt;|flush|&gt; (Solar Open),
    /// &lt;|end|&gt; is an ordinary added token; with &lt;|tool_response&gt; (Gemma 4), &lt;/s&gt; is plain text.
    /// </summary>
    public static HashSet<int> EndOfGeneration(string[] pieces, TokenKind[] kinds, params int?[] knownIds)
    {
        var ids = new HashSet<int>();
        foreach (var id in knownIds)
        {
            if (id is int v && (uint)v < (uint)pieces.Length) ids.Add(v);
        }
        var found = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < pieces.Length; i++)
        {
            if (Array.IndexOf(EndOfGenerationPieces, pieces[i]) >= 0) found[pieces[i]] = i;
        }
        if (found.TryGetValue("<|end|>", out int end)
            && ((found.ContainsKey("<|return|>") && found.ContainsKey("<|call|>")) || (found.ContainsKey("<|calls|>") && found.ContainsKey("<|flush|>"))))
        {
            found.Remove("<|end|>");
            kinds[end] = TokenKind.UserDefined;
        }
        if (found.ContainsKey("<|tool_response>") && found.Remove("</s>", out int close)) kinds[close] = TokenKind.Normal;
        foreach (var id in found.Values)
        {
            ids.Add(id);
            kinds[id] = TokenKind.Control;
        }
        return ids;
    }
}
