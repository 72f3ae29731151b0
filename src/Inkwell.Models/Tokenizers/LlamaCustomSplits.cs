namespace Inkwell.Models.Tokenizers;

/// <summary>
/// The pre-tokenizer steps llama.cpp implements by hand instead of with a regex (unicode.cpp), ported as written,
/// quirks included. Each splits the code points cps[start..end) into pieces appended to <c>pieces</c>.
/// </summary>
internal static class LlamaCustomSplits
{
    /// <summary>Kimi-K2's whole pattern list ([\p{Han}]+, letter words without Han, \p{N}{1,3}, punctuation, whitespace).</summary>
    public static void KimiK2(int[] cps, int start, int end, List<(int Start, int End)> pieces)
    {
        const int OutOfRange = -1;
        int Cpt(int p) => p >= start && p < end ? cps[p] : OutOfRange;
        bool InRange(int p) => p >= start && p < end;
        bool Letter(int p) => InRange(p) && UnicodeClass.IsLetter(cps[p]);
        bool Number(int p) => InRange(p) && UnicodeClass.IsNumber(cps[p]);
        bool Space(int p) => InRange(p) && UnicodeClass.IsWhitespace(cps[p]);
        bool Han(int p) => InRange(p) && UnicodeClass.IsHan(cps[p]);
        int previous = start;
        void Add(int to)
        {
            if (to > previous) pieces.Add((previous, to));
            previous = to;
        }

        for (int pos = start; pos < end;)
        {
            int cpt = Cpt(pos);
            if (Han(pos))
            {
                while (Han(pos)) pos++;
                Add(pos);
                continue;
            }

            bool leadCandidate = !(cpt == '\r' || cpt == '\n' || Letter(pos) || Number(pos));
            if ((Letter(pos) && !Han(pos)) || (leadCandidate && Letter(pos + 1) && !Han(pos + 1)))
            {
                bool hasLead = false;
                if (leadCandidate)
                {
                    hasLead = true;
                    pos++;
                }
                bool hasLetters = false;
                while (Letter(pos) && !Han(pos))
                {
                    hasLetters = true;
                    pos++;
                }
                if (hasLetters || (!hasLead && Letter(pos) && !Han(pos)))
                {
                    if (!hasLetters) pos++;
                    while (Letter(pos) && !Han(pos)) pos++;
                    if (Cpt(pos) == '\'' && pos + 1 < end)
                    {
                        int next = char.ToLowerInvariant((char)Math.Min(Cpt(pos + 1), 0xFFFF));
                        if (next is 's' or 't' or 'm' or 'd') pos += 2;
                        else if (pos + 2 < end)
                        {
                            int nextNext = char.ToLowerInvariant((char)Math.Min(Cpt(pos + 2), 0xFFFF));
                            if ((next == 'r' && nextNext == 'e') || (next == 'v' && nextNext == 'e') || (next == 'l' && nextNext == 'l')) pos += 3;
                        }
                    }
                    Add(pos);
                    continue;
                }
                if (hasLead) pos--;
            }

            if (Number(pos))
            {
                int first = pos;
                while (Number(pos))
                {
                    if (++pos - first >= 3)
                    {
                        Add(pos);
                        first = pos;
                    }
                }
                Add(pos);
                continue;
            }

            // ' ?[^\s\p{L}\p{N}]+[\r\n]*' (a code point outside the piece has no class, as llama.cpp's empty flags)
            int probe = cpt == ' ' ? pos + 1 : pos;
            if (InRange(probe) && !(Space(probe) || Letter(probe) || Number(probe)))
            {
                pos = probe;
                while (InRange(pos) && !(Space(pos) || Letter(pos) || Number(pos))) pos++;
                while (Cpt(pos) is '\r' or '\n') pos++;
                Add(pos);
                continue;
            }

            int spaces = 0, lastNewlineEnd = 0;
            while (Space(pos + spaces))
            {
                if (Cpt(pos + spaces) is '\r' or '\n') lastNewlineEnd = pos + spaces + 1;
                spaces++;
            }
            if (lastNewlineEnd > 0)
            {
                pos = lastNewlineEnd;
                Add(pos);
                continue;
            }
            if (spaces > 1 && Cpt(pos + spaces) != OutOfRange)
            {
                pos += spaces - 1;
                Add(pos);
                continue;
            }
            if (spaces > 0)
            {
                pos += spaces;
                Add(pos);
                continue;
            }
            Add(++pos);
        }
    }

    /// <summary>
    /// AFMoE's digit grouping (also what llama.cpp runs for tiny_aya's \d{1,3}(?=(?:\d{3})*\b)): a run of \p{N} is cut
    /// into a leading 1-2 digits and then threes. As in llama.cpp, the text before a run joins the run's first group.
    /// </summary>
    public static void DigitGroups(ReadOnlySpan<int> cps, int start, int end, List<(int Start, int End)> pieces)
    {
        int previous = start;
        void Add(int to)
        {
            if (to > previous) pieces.Add((previous, to));
            previous = to;
        }
        for (int pos = start; pos < end;)
        {
            if (!UnicodeClass.IsNumber(cps[pos]))
            {
                pos++;
                continue;
            }
            int first = pos;
            while (pos < end && UnicodeClass.IsNumber(cps[pos])) pos++;
            int count = pos - first, current = first;
            if (count % 3 > 0)
            {
                current += count % 3;
                Add(current);
            }
            while (current < pos)
            {
                current += 3;
                Add(current);
            }
        }
        if (previous < end) Add(end);
    }
}
