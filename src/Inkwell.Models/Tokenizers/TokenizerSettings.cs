namespace Inkwell.Models.Tokenizers;

/// <summary>Ids, flags and special-token rules a tokenizer needs besides its vocabulary.</summary>
internal sealed record TokenizerSettings
{
    public int BosId { get; init; } = -1;
    public int EosId { get; init; } = -1;
    public int? UnkId { get; init; }
    public int? PadId { get; init; }
    public bool AddBos { get; init; }
    public bool AddEos { get; init; }
    /// <summary>BERT's separator, appended after the text when special tokens are added.</summary>
    public int SepId { get; init; } = -1;
    public bool AddSep { get; init; }
    /// <summary>SentencePiece's dummy prefix: a space is added before text, and removed again when decoding.</summary>
    public bool AddSpacePrefix { get; init; }
    public IReadOnlySet<int> EndOfGenerationIds { get; init; } = new HashSet<int>();
    public IReadOnlySet<int> LStripIds { get; init; } = new HashSet<int>();
    public IReadOnlySet<int> RStripIds { get; init; } = new HashSet<int>();
}
