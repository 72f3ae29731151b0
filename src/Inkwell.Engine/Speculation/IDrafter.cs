using Inkwell.Engine.Requests;

namespace Inkwell.Engine.Speculation;

/// <summary>
/// Proposes draft tokens for decoding requests (engine thread only). A drafter writes into each request's
/// <see cref="DraftState"/>; the speculator appends the drafts to the request and the target verifies them.
/// </summary>
public interface IDrafter
{
    /// <summary>False when this drafter cannot draft for the request at all (speculation is then off for it).</summary>
    bool CanDraft(EngineRequest request);

    /// <summary>Writes up to each slot's MaxTokens draft tokens into its request's Draft (Count may stay 0).</summary>
    void Propose(ReadOnlySpan<DraftSlot> slots);

    /// <summary>After verification: only the request's first <paramref name="validTokens"/> tokens are final.</summary>
    void Rollback(EngineRequest request, int validTokens);

    /// <summary>The request has finished: drop whatever the drafter holds for it.</summary>
    void Release(EngineRequest request);
}
