using System.Runtime.InteropServices;
using Inkwell.Engine.Requests;

namespace Inkwell.Engine.Speculation;

/// <summary>
/// Prompt lookup (vLLM's "ngram" proposer, TGI's speculation without a draft model): find the latest earlier
/// occurrence of the sequence's last n tokens (n from <see cref="MaxNgram"/> down to <see cref="MinNgram"/>) in its
/// prompt and generated tokens, and propose the tokens that followed it. Costs no model; pays off when the answer
/// repeats its input (code editing, extraction). Drafts are point masses. Holds no state.
/// </summary>
public sealed class PromptLookupDrafter : IDrafter
{
    public const int MaxNgram = 3;
    public const int MinNgram = 1;

    public bool CanDraft(EngineRequest request) => true;

    public void Propose(ReadOnlySpan<DraftSlot> slots)
    {
        foreach (var slot in slots)
        {
            var r = slot.Request;
            // Soft-prompt placeholders are not text: search the real tokens only.
            var tokens = CollectionsMarshal.AsSpan(r.Tokens)[r.PrefixTokenCount..];
            r.Draft!.Sampled = false;
            r.Draft.Count = Lookup(tokens, r.Draft.Tokens.AsSpan(0, slot.MaxTokens));
        }
    }

    /// <summary>Copies the continuation of the longest, latest match of the tokens' suffix into draft; returns its length.</summary>
    public static int Lookup(ReadOnlySpan<int> tokens, Span<int> draft)
    {
        for (int n = Math.Min(MaxNgram, tokens.Length - 1); n >= MinNgram; n--)
        {
            // A match must end before the last token, so that at least one token follows it.
            int at = tokens[..^1].LastIndexOf(tokens[^n..]);
            if (at < 0) continue;
            int start = at + n;
            int count = Math.Min(draft.Length, tokens.Length - start);
            tokens.Slice(start, count).CopyTo(draft);
            return count;
        }
        return 0;
    }

    public void Rollback(EngineRequest request, int validTokens) { }

    public void Release(EngineRequest request) { }
}
