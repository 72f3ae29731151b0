namespace Inkwell.Models.Tokenizers;

/// <summary>Conventions shared by the loaders for tokens the metadata does not label.</summary>
internal static class SpecialTokenRules
{
    /// <summary>Pieces that end a turn in common chat formats; llama.cpp treats them as end-of-generation too.</summary>
    public static readonly string[] EndOfGenerationPieces =
        ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"];

    /// <summary>
    /// The end-of-generation set: the given ids plus every vocabulary piece in <see cref="EndOfGenerationPieces"/>.
    /// Such pieces are made control tokens when the file typed them otherwise, as llama.cpp does.
    /// </summary>
    public static HashSet<int> EndOfGeneration(string[] pieces, TokenKind[] kinds, params int?[] knownIds)
    {
        var ids = new HashSet<int>();
        foreach (var id in knownIds)
        {
            if (id is int v && (uint)v < (uint)pieces.Length) ids.Add(v);
        }
        for (int i = 0; i < pieces.Length; i++)
        {
            if (Array.IndexOf(EndOfGenerationPieces, pieces[i]) < 0) continue;
            ids.Add(i);
            kinds[i] = TokenKind.Control;
        }
        return ids;
    }
}
