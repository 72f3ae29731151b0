using System.Runtime.InteropServices;
using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Text to token ids and back, for one model's vocabulary. Immutable and thread-safe once built.
/// Build one with <see cref="FromGguf"/>, <see cref="FromLlama2cFile"/> or <see cref="FromHuggingFaceJson"/>.
/// </summary>
public abstract partial class Tokenizer
{
    private readonly TokenBytesTable _tokenBytes;
    private readonly SpecialTokenMatcher _specialTokens;
    private readonly HashSet<int> _endOfGeneration;

    private protected Tokenizer(Vocabulary vocabulary, TokenizerSettings settings, PieceDecoding decoding)
    {
        Vocabulary = vocabulary;
        _tokenBytes = new TokenBytesTable(vocabulary, decoding);
        BosId = settings.BosId;
        EosId = settings.EosId;
        UnkId = settings.UnkId;
        PadId = settings.PadId;
        AddBos = settings.AddBos && BosId >= 0;
        AddEos = settings.AddEos && EosId >= 0;
        SepId = settings.SepId;
        AddSep = settings.AddSep && SepId >= 0;
        AddSpacePrefix = settings.AddSpacePrefix;
        _endOfGeneration = [.. settings.EndOfGenerationIds];
        if (EosId >= 0) _endOfGeneration.Add(EosId);

        var entries = new List<SpecialTokenMatcher.Entry>();
        for (int id = 0; id < vocabulary.Count; id++)
        {
            var kind = vocabulary.Kinds[id];
            if (kind is TokenKind.Control or TokenKind.Unknown or TokenKind.UserDefined)
            {
                entries.Add(new(vocabulary.Pieces[id], id, OnlyWhenParsingSpecial: kind != TokenKind.UserDefined,
                    settings.LStripIds.Contains(id), settings.RStripIds.Contains(id)));
            }
        }
        _specialTokens = new SpecialTokenMatcher(entries);
    }

    private protected Vocabulary Vocabulary { get; }

    public int VocabSize => Vocabulary.Count;
    /// <summary>Beginning-of-sequence id, or -1 when the vocabulary has none.</summary>
    public int BosId { get; }
    /// <summary>End-of-sequence id, or -1 when the vocabulary has none.</summary>
    public int EosId { get; }
    public int? UnkId { get; }
    public int? PadId { get; }
    /// <summary>Whether <see cref="EncodeToIds"/> starts with BOS when asked to add special tokens.</summary>
    public bool AddBos { get; }
    /// <summary>Whether <see cref="EncodeToIds"/> ends with EOS when asked to add special tokens.</summary>
    public bool AddEos { get; }
    /// <summary>SentencePiece dummy prefix: text is encoded as if it began with a space, which decoding removes again.</summary>
    public bool AddSpacePrefix { get; }
    /// <summary>BERT's separator id ([SEP]), or -1.</summary>
    public int SepId { get; }
    /// <summary>Whether <see cref="EncodeToIds"/> ends with SEP (after EOS) when asked to add special tokens (BERT).</summary>
    public bool AddSep { get; }

    /// <summary>
    /// True for a placeholder vocabulary (llama.cpp's test models, tokenizer.ggml.model "test"): ids and vocabulary size are
    /// real, but there is no tokenizer, so encoding and decoding throw <see cref="NotSupportedException"/> saying so.
    /// </summary>
    public virtual bool IsPlaceholder => false;

    /// <summary>
    /// Throws <see cref="NotSupportedException"/> with the placeholder's explanation; a no-op for real tokenizers.
    /// Commands that need text (serve, generate) call it up front, so they refuse such a model before starting.
    /// </summary>
    public virtual void RequireText() { }

    /// <summary>EOS plus the end-of-turn tokens (&lt;|eot_id|&gt;, &lt;|im_end|&gt;, &lt;|end|&gt;, ...) that end a generation.</summary>
    public IReadOnlySet<int> EndOfGenerationIds => _endOfGeneration;

    public bool IsEndOfGeneration(int id) => _endOfGeneration.Contains(id);

    /// <summary>
    /// Encodes text. With <paramref name="addSpecialTokens"/>, adds BOS/EOS as the model asks (<see cref="AddBos"/>, <see cref="AddEos"/>).
    /// With <paramref name="parseSpecialTokens"/>, control tokens written in the text (e.g. "&lt;|im_start|&gt;") become single tokens;
    /// added user-defined tokens are always matched.
    /// </summary>
    public IReadOnlyList<int> EncodeToIds(string text, bool addSpecialTokens = true, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sink = new EncodeSink(withOffsets: false);
        Encode(text, addSpecialTokens, parseSpecialTokens, sink);
        return sink.Ids;
    }

    /// <summary>As <see cref="EncodeToIds"/>, with each token's character range in <paramref name="text"/> (BOS/EOS get empty ranges).</summary>
    public IReadOnlyList<EncodedToken> EncodeToTokens(string text, bool addSpecialTokens = true, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sink = new EncodeSink(withOffsets: true);
        Encode(text, addSpecialTokens, parseSpecialTokens, sink);
        return sink.Tokens!;
    }

    private void Encode(string text, bool addSpecialTokens, bool parseSpecialTokens, EncodeSink sink)
    {
        RequireText();
        if (addSpecialTokens && AddBos) sink.Add(BosId, 0, 0);
        var fragments = new List<SpecialTokenMatcher.Fragment>();
        _specialTokens.Split(text, parseSpecialTokens, fragments);
        var encoder = CreateTextEncoder();
        foreach (var fragment in fragments)
        {
            if (fragment.IsToken) sink.Add(fragment.Id, fragment.Start, fragment.End);
            else encoder.Encode(text, fragment.Start, fragment.End, sink);
        }
        if (addSpecialTokens && AddEos) sink.Add(EosId, text.Length, text.Length);
        if (addSpecialTokens && AddSep) sink.Add(SepId, text.Length, text.Length);
    }

    /// <summary>An encoder for the text between special tokens, with scratch buffers for one encode call.</summary>
    private protected abstract ITextEncoder CreateTextEncoder();

    /// <summary>
    /// Decodes ids to text. Bytes that are not valid UTF-8 become U+FFFD. With <see cref="AddSpacePrefix"/>, the dummy-prefix space
    /// is dropped from the first piece when nothing precedes it but (a skipped) BOS: "▁Hello" and [BOS, "▁Hello"] with skipped
    /// special tokens decode to "Hello", [BOS, "▁Hello"] otherwise to "&lt;s&gt; Hello", as SentencePiece and Hugging Face do.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        int previous = -1;
        for (int i = 0; i < ids.Length; i++)
        {
            bool mayDropSpace = bytes.Count == 0 && (i == 0 || previous == BosId);
            bytes.AddRange(PieceForDecode(ids[i], skipSpecialTokens, mayDropSpace));
            previous = ids[i];
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        Decode(ids as int[] ?? ids.ToArray(), skipSpecialTokens);

    /// <summary>
    /// Streams ids to text without splitting characters. <paramref name="previousId"/> is the token before the first one fed
    /// (e.g. the prompt's last token): after BOS, or with null (the decoder starts the sequence), the first piece loses its
    /// dummy-prefix space like <see cref="Decode(ReadOnlySpan{int}, bool)"/>; after any other token it keeps it.
    /// </summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = false, int? previousId = null)
    {
        if (previousId is int p) CheckId(p);
        return new IncrementalDecoder(this, skipSpecialTokens, previousId);
    }

    internal ReadOnlySpan<byte> PieceForDecode(int id, bool skipSpecialTokens, bool mayDropSpace)
    {
        RequireText();
        CheckId(id);
        if (skipSpecialTokens && IsSpecial(id)) return [];
        var piece = _tokenBytes[id];
        if (mayDropSpace && AddSpacePrefix && piece.Length > 0 && piece[0] == (byte)' ') piece = piece[1..];
        return piece;
    }

    /// <summary>The exact bytes this token adds to decoded text (special tokens: their text). A piece may be part of a character.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        RequireText();
        CheckId(id);
        return _tokenBytes[id];
    }

    /// <summary>
    /// The text this token adds to decoded text, as clients are shown one token (" Hello" for "▁Hello" and "ĠHello");
    /// a piece that is part of a character shows U+FFFD.
    /// </summary>
    public string TokenString(int id) => Encoding.UTF8.GetString(TokenBytes(id));

    /// <summary>The raw vocabulary piece (e.g. "▁Hello", "ĠHello", "&lt;0x0A&gt;").</summary>
    public string TokenText(int id)
    {
        CheckId(id);
        return Vocabulary.Pieces[id];
    }

    public TokenKind GetTokenKind(int id)
    {
        CheckId(id);
        return Vocabulary.Kinds[id];
    }

    /// <summary>Control and unknown-placeholder tokens: the ones <c>skipSpecialTokens</c> leaves out.</summary>
    public bool IsSpecial(int id) => GetTokenKind(id) is TokenKind.Control or TokenKind.Unknown;

    /// <summary>Finds the id of a vocabulary piece given its raw text (as <see cref="TokenText"/> shows it).</summary>
    public bool TryGetTokenId(ReadOnlySpan<char> tokenText, out int id) => Vocabulary.TryGetId(tokenText, out id);

    private void CheckId(int id)
    {
        if (!Vocabulary.IsValidId(id)) throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
    }
}
