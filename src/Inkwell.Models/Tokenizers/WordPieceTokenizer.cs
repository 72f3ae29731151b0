using System.Text;

namespace Inkwell.Models.Tokenizers;

/// <summary>
/// BERT's WordPiece as llama.cpp runs it (tokenizer.ggml.model "bert"): the text is normalized (optionally lowercased and
/// stripped of accents, control characters dropped) and cut at whitespace, punctuation, ASCII symbols and CJK ideographs;
/// each word, with a '▁' in front (llama.cpp's converter writes word-initial pieces that way), becomes the longest
/// matching pieces left to right, or the unknown token when any part of it matches nothing.
/// </summary>
internal sealed class WordPieceTokenizer : Tokenizer
{
    private readonly bool _lowercase, _stripAccents;
    private readonly int _maxPieceLength;

    public WordPieceTokenizer(Vocabulary vocabulary, TokenizerSettings settings, bool lowercase, bool stripAccents)
        : base(vocabulary, settings, PieceDecoding.SpaceMarker)
    {
        _lowercase = lowercase;
        _stripAccents = stripAccents;
        _maxPieceLength = vocabulary.Pieces.Max(p => p.Length);
    }

    private protected override ITextEncoder CreateTextEncoder() => new Session(this);

    private sealed class Session(WordPieceTokenizer owner) : ITextEncoder
    {
        private readonly StringBuilder _word = new();
        private readonly List<int> _sources = []; // input index of each char of _word ('▁' included)
        private readonly List<(int Id, int Start, int End)> _pieces = [];
        private int _wordEnd;

        public void Encode(string text, int start, int end, EncodeSink sink)
        {
            Reset();
            for (int i = start; i < end;)
            {
                int at = i;
                int cp = ReadCodePoint(text, ref i);
                if (owner._stripAccents) cp = UnicodeDecomposition.FirstOfDecomposition(cp);
                if (UnicodeClass.IsWhitespace(cp))
                {
                    Flush(sink);
                    continue;
                }
                if (cp is 0 or 0xFFFD || UnicodeClass.IsControl(cp)) continue;
                if (owner._stripAccents && UnicodeClass.IsMark(cp)) continue;
                int written = owner._lowercase ? LowerCase(cp) : cp;
                bool alone = UnicodeClass.IsPunctuation(cp) || (cp < 0x7F && UnicodeClass.IsSymbol(cp)) || IsChineseChar(cp);
                if (alone) Flush(sink);
                Append(written, at, i);
                if (alone) Flush(sink);
            }
            Flush(sink);
        }

        private void Reset()
        {
            _word.Clear().Append(TokenBytesTable.SpaceMarker);
            _sources.Clear();
            _sources.Add(-1);
        }

        private void Append(int cp, int from, int to)
        {
            if (_sources[0] < 0) _sources[0] = from;
            string s = char.ConvertFromUtf32(cp);
            _word.Append(s);
            foreach (char _ in s) _sources.Add(from);
            _wordEnd = to;
        }

        private void Flush(EncodeSink sink)
        {
            if (_word.Length > 1) EncodeWord(sink);
            Reset();
        }

        private void EncodeWord(EncodeSink sink)
        {
            string word = _word.ToString();
            int n = word.Length;
            _pieces.Clear();
            for (int i = 0; i < n;)
            {
                int matched = -1, id = -1;
                for (int j = Math.Min(n, i + owner._maxPieceLength + 1); j > i; j--)
                {
                    if (owner.Vocabulary.TryGetId(word.AsSpan(i, j - i), out id))
                    {
                        matched = j;
                        break;
                    }
                }
                if (matched < 0)
                {
                    _pieces.Clear(); // one unmatched part: the whole word is unknown
                    break;
                }
                _pieces.Add((id, _sources[i], matched < n ? _sources[matched] : _wordEnd));
                i = matched;
            }
            if (_pieces.Count == 0)
            {
                if (owner.UnkId is int unk) sink.Add(unk, _sources[0], _wordEnd);
                return;
            }
            foreach (var (id, from, to) in _pieces) sink.Add(id, from, to);
        }
    }

    private static int LowerCase(int cp) => cp <= 0xFFFF ? char.ToLowerInvariant((char)cp) : Rune.ToLowerInvariant(new Rune(cp)).Value;

    /// <summary>The code point at text[i] (a lone surrogate reads as U+FFFD, which is then dropped), advancing i past it.</summary>
    private static int ReadCodePoint(string text, ref int i)
    {
        char c = text[i];
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            i += 2;
            return char.ConvertToUtf32(c, text[i - 1]);
        }
        i++;
        return char.IsSurrogate(c) ? 0xFFFD : c;
    }

    /// <summary>The CJK ranges llama.cpp (after Hugging Face's BertPreTokenizer) treats as one-character words.</summary>
    private static bool IsChineseChar(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
