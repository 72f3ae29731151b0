using Inkwell.Models;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine.Speculation;

/// <summary>
/// Speculative decoding (TGI's --speculate, llama-server's draft model): each step a drafter proposes up to
/// MaxDraftTokens tokens per decoding request and the target verifies them in the same forward pass. Without a draft
/// model the drafter is prompt lookup (n-gram matches over the request's own tokens).
/// </summary>
public sealed record SpeculationOptions
{
    /// <summary>Most draft tokens per request and step (TGI's --speculate N); 0 turns speculation off.</summary>
    public int MaxDraftTokens { get; init; }
    /// <summary>A smaller model over the same vocabulary that drafts autoregressively; null = prompt lookup.</summary>
    public ICausalLM? DraftModel { get; init; }
    /// <summary>The draft model's tokenizer, compared with the target's before anything runs.</summary>
    public Tokenizer? DraftTokenizer { get; init; }
    /// <summary>Any other drafter (tests use an oracle); takes precedence over DraftModel.</summary>
    internal IDrafter? Drafter { get; init; }

    /// <summary>Refuses a draft model whose vocabulary differs from the target's: its token ids would mean other text.</summary>
    public static void RequireSameVocabulary(ModelConfig target, Tokenizer targetTokenizer, ModelConfig draft, Tokenizer draftTokenizer)
    {
        if (draft.VocabSize != target.VocabSize)
            throw new ArgumentException($"the draft model's vocabulary has {draft.VocabSize} entries, the target's {target.VocabSize}: a draft model must share the target's vocabulary");
        if (draftTokenizer.VocabSize != targetTokenizer.VocabSize)
            throw new ArgumentException($"the draft tokenizer has {draftTokenizer.VocabSize} tokens, the target's {targetTokenizer.VocabSize}: a draft model must share the target's vocabulary");
        for (int id = 0; id < targetTokenizer.VocabSize; id++)
        {
            if (!draftTokenizer.TokenBytes(id).SequenceEqual(targetTokenizer.TokenBytes(id)))
                throw new ArgumentException($"token {id} is '{draftTokenizer.TokenText(id)}' for the draft model but '{targetTokenizer.TokenText(id)}' for the target: a draft model must share the target's vocabulary");
        }
    }
}
