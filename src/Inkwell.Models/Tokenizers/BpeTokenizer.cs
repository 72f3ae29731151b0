using System.Buffers;
using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>Which text fragments get the dummy prefix (SentencePiece '▁' or byte-level ' ').</summary>
internal enum PrefixRule
{
    Never,
    /// <summary>Every run of text between special tokens (llama.cpp for SentencePiece; HF Prepend / Metaspace "always").</summary>
    EveryFragment,
    /// <summary>Only the fragment at the very start of the input (HF Metaspace "first").</summary>
    FirstFragmentOnly,
}

/// <summary>How a BPE-family tokenizer turns text into symbols and merges them.</summary>
internal sealed record BpeOptions
{
    /// <summary>SentencePiece rule: merge by the score of the merged token. Otherwise merge by rank in <see cref="Merges"/>.</summary>
    public bool UseScores { get; init; }
    public BpeMergeTable? Merges { get; init; }
    /// <summary>GPT-2 byte-level: words are UTF-8 encoded and each byte mapped to a visible character before merging.</summary>
    public bool ByteLevel { get; init; }
    public PreTokenizer? PreTokenizer { get; init; }
    /// <summary>Spaces are replaced by this character before merging (SentencePiece '▁').</summary>
    public char? SpaceReplacement { get; init; }
    public char? Prefix { get; init; }
    public PrefixRule PrefixRule { get; init; }
    /// <summary>Skip the prefix when the fragment already starts with it (HF Metaspace and ByteLevel add_prefix_space).</summary>
    public bool PrefixOnlyIfMissing { get; init; }
    /// <summary>Characters that are not tokens become their UTF-8 bytes as &lt;0xAB&gt; tokens (else the unknown token).</summary>
    public bool ByteFallback { get; init; }
    /// <summary>A whole pre-tokenized word that is itself a token is emitted without merging (Llama 3).</summary>
    public bool IgnoreMerges { get; init; }
    /// <summary>A word of newlines only that is itself a token is emitted without merging (llama.cpp's Gemma 4 rule).</summary>
    public bool WholeNewlineRuns { get; init; }
    /// <summary>Whitespace only separates: each run between is encoded on its own (llama.cpp's "whitespace" tokenizer).</summary>
    public bool SplitAtWhitespace { get; init; }
    /// <summary>Text is lowercased before splitting (that tokenizer's normalizer).</summary>
    public bool Lowercase { get; init; }

    /// <summary>SentencePiece BPE as llama.cpp runs it: scores, '▁' for spaces, byte fallback, dummy prefix on every text fragment.</summary>
    public static BpeOptions SentencePiece(bool addSpacePrefix) => new()
    {
        UseScores = true,
        SpaceReplacement = TokenBytesTable.SpaceMarker,
        Prefix = addSpacePrefix ? TokenBytesTable.SpaceMarker : null,
        PrefixRule = addSpacePrefix ? PrefixRule.EveryFragment : PrefixRule.Never,
        ByteFallback = true,
    };
}

/// <summary>SentencePiece-BPE (scores, byte fallback) and byte-level BPE (merge ranks, pre-tokenizer regexes) in one engine.</summary>
internal sealed class BpeTokenizer : Tokenizer
{
    private readonly BpeOptions _options;

    public BpeTokenizer(Vocabulary vocabulary, TokenizerSettings settings, BpeOptions options)
        : base(vocabulary, settings, options.ByteLevel ? PieceDecoding.ByteLevel : PieceDecoding.SpaceMarker)
    {
        if (!options.UseScores && options.Merges is null) throw new ArgumentException("ranked BPE needs a merge table", nameof(options));
        if (options.UseScores && vocabulary.Scores.Length != vocabulary.Count) throw new ArgumentException("score-based BPE needs one score per token", nameof(options));
        _options = options;
    }

    private protected override ITextEncoder CreateTextEncoder() => new Session(this);

    /// <summary>Scratch buffers for one encode call, reused across its fragments and words.</summary>
    private sealed class Session(BpeTokenizer owner) : ITextEncoder
    {
        public readonly BpeWordMerger Merger = new(owner.Vocabulary, owner._options.Merges);
        public readonly List<(int Start, int End)> Words = [];
        public char[] Working = new char[256];
        public char[] Encoded = new char[256];
        public int[] ByteCharStart = new int[256];
        public int[] ByteCharEnd = new int[256];

        public void Encode(string text, int start, int end, EncodeSink sink) => owner.EncodeText(text, start, end, this, sink);
    }

    private void EncodeText(string text, int start, int end, Session session, EncodeSink sink)
    {
        if (!_options.SplitAtWhitespace)
        {
            EncodeRun(text, start, end, session, sink);
            return;
        }
        // Unicode whitespace is all in the BMP, so a char test suffices (a surrogate is never whitespace).
        for (int i = start; i < end;)
        {
            while (i < end && UnicodeClass.IsWhitespace(text[i])) i++;
            int runStart = i;
            while (i < end && !UnicodeClass.IsWhitespace(text[i])) i++;
            if (i > runStart) EncodeRun(text, runStart, i, session, sink);
        }
    }

    private void EncodeRun(string text, int start, int end, Session session, EncodeSink sink)
    {
        ReadOnlySpan<char> fragment = text.AsSpan(start, end - start);

        bool prefix = _options.Prefix is not null && (_options.PrefixRule == PrefixRule.EveryFragment
            || (_options.PrefixRule == PrefixRule.FirstFragmentOnly && start == 0));
        if (prefix && _options.PrefixOnlyIfMissing)
        {
            char first = fragment[0] == ' ' && _options.SpaceReplacement is char r ? r : fragment[0];
            prefix = first != _options.Prefix;
        }
        int shift = prefix ? 1 : 0;

        ReadOnlySpan<char> working = fragment;
        if (shift > 0 || _options.SpaceReplacement is not null || _options.Lowercase)
        {
            if (session.Working.Length < fragment.Length + shift) session.Working = new char[fragment.Length + shift + 64];
            var buffer = session.Working.AsSpan(0, fragment.Length + shift);
            if (prefix) buffer[0] = _options.Prefix!.Value;
            fragment.CopyTo(buffer[shift..]);
            if (_options.SpaceReplacement is char replacement) buffer[shift..].Replace(' ', replacement);
            if (_options.Lowercase) LowercaseInPlace(buffer[shift..]);
            working = buffer;
        }

        var words = session.Words;
        words.Clear();
        if (_options.PreTokenizer is { } pre) pre.Split(working, 0, working.Length, words);
        else words.Add((0, working.Length));

        var mapper = new OffsetMapper(start, shift);
        foreach (var (wordStart, wordEnd) in words)
        {
            if (_options.ByteLevel) EncodeByteLevelWord(working[wordStart..wordEnd], wordStart, session, mapper, sink);
            else EncodeWord(working[wordStart..wordEnd], wordStart, session, mapper, sink);
        }
    }

    /// <summary>Simple (one code point to one) lowercasing; a code point keeps its UTF-16 length, so offsets stay valid.</summary>
    private static void LowercaseInPlace(Span<char> text)
    {
        for (int i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used) != OperationStatus.Done)
            {
                i += used;
                continue;
            }
            Rune lower = Rune.ToLowerInvariant(rune);
            if (lower.Utf16SequenceLength == used) lower.EncodeToUtf16(text[i..]);
            i += used;
        }
    }

    /// <summary>Maps an index in the working text (prefix + fragment) back to the input.</summary>
    private readonly record struct OffsetMapper(int FragmentStart, int Shift)
    {
        public int ToInput(int working) => FragmentStart + Math.Max(0, working - Shift);
    }

    private void EncodeWord(ReadOnlySpan<char> word, int wordStart, Session session, OffsetMapper mapper, EncodeSink sink)
    {
        var merger = session.Merger;
        bool whole = _options.IgnoreMerges || (_options.WholeNewlineRuns && !word.ContainsAnyExcept('\n'));
        merger.Merge(word, _options.UseScores, whole);
        Span<byte> utf8 = stackalloc byte[8]; // a symbol that is no token is one code point: at most 4 bytes
        for (int s = BpeWordMerger.First; s >= 0; s = merger.Next(s))
        {
            int symbolStart = merger.Start(s), symbolLength = merger.Length(s);
            int from = mapper.ToInput(wordStart + symbolStart), to = mapper.ToInput(wordStart + symbolStart + symbolLength);
            int id = merger.Id(s);
            if (id >= 0)
            {
                sink.Add(id, from, to);
                continue;
            }
            if (!_options.ByteFallback)
            {
                if (UnkId is int unk) sink.Add(unk, from, to);
                continue;
            }
            int n = Encoding.UTF8.GetBytes(word.Slice(symbolStart, symbolLength), utf8);
            for (int i = 0; i < n; i++)
            {
                int byteId = Vocabulary.ByteTokenId(utf8[i]);
                if (byteId >= 0) sink.Add(byteId, from, to);
                else if (UnkId is int unk) sink.Add(unk, from, to);
            }
        }
    }

    private void EncodeByteLevelWord(ReadOnlySpan<char> word, int wordStart, Session session, OffsetMapper mapper, EncodeSink sink)
    {
        int maxBytes = word.Length * 3;
        if (session.Encoded.Length < maxBytes)
        {
            session.Encoded = new char[maxBytes + 64];
            session.ByteCharStart = new int[maxBytes + 64];
            session.ByteCharEnd = new int[maxBytes + 64];
        }

        // UTF-8 encode rune by rune so every byte knows which characters it came from.
        Span<byte> utf8 = stackalloc byte[4];
        int byteCount = 0;
        for (int i = 0; i < word.Length;)
        {
            OperationStatus status = Rune.DecodeFromUtf16(word[i..], out Rune rune, out int used);
            if (status != OperationStatus.Done) rune = Rune.ReplacementChar;
            int n = rune.EncodeToUtf8(utf8);
            for (int k = 0; k < n; k++)
            {
                session.Encoded[byteCount] = ByteLevelEncoding.Encode(utf8[k]);
                session.ByteCharStart[byteCount] = wordStart + i;
                session.ByteCharEnd[byteCount] = wordStart + i + used;
                byteCount++;
            }
            i += used;
        }

        ReadOnlySpan<char> encoded = session.Encoded.AsSpan(0, byteCount);
        var merger = session.Merger;
        merger.Merge(encoded, useScores: false, _options.IgnoreMerges);
        for (int s = BpeWordMerger.First; s >= 0; s = merger.Next(s))
        {
            int first = merger.Start(s), length = merger.Length(s);
            int id = merger.Id(s);
            if (id >= 0)
            {
                sink.Add(id, mapper.ToInput(session.ByteCharStart[first]), mapper.ToInput(session.ByteCharEnd[first + length - 1]));
                continue;
            }
            // A symbol that is no token: emit its bytes one by one where the vocabulary has them (llama.cpp's fallback).
            for (int b = first; b < first + length; b++)
            {
                if (Vocabulary.TryGetId(encoded.Slice(b, 1), out int byteId))
                {
                    sink.Add(byteId, mapper.ToInput(session.ByteCharStart[b]), mapper.ToInput(session.ByteCharEnd[b]));
                }
                else if (UnkId is int unk) sink.Add(unk, mapper.ToInput(session.ByteCharStart[b]), mapper.ToInput(session.ByteCharEnd[b]));
            }
        }
    }
}
