using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;

namespace Inkwell.Server.Grammar;

/// <summary>
/// One request's walk through a compiled <see cref="TokenAutomaton"/>: the automaton is shared (cached per grammar),
/// the current state is this object's, so every sequence (each of n choices too) needs its own instance. Given the
/// tokens left (max_new_tokens - generated), the mask steers to the shortest completion once the budget gets tight,
/// so the output is a full match whenever max_new_tokens covers the grammar's shortest match.
/// </summary>
public sealed class GrammarConstraint(TokenAutomaton automaton, TokenVocabulary vocabulary) : ITokenConstraint
{
    private int _state = automaton.InitialState;
    private bool _failed;
    private bool _exhausted = OnlyEndAllowed(automaton, vocabulary, automaton.InitialState);

    public TokenAutomaton Automaton => automaton;

    public int State => _state;

    /// <summary>Without a budget: every token the grammar allows here.</summary>
    public void Mask(Span<float> logits) => automaton.ApplyMask(_state, logits);

    /// <summary>Tokens the grammar allows here that still leave a full match reachable within tokensLeft (this one included).</summary>
    public void Mask(Span<float> logits, int tokensLeft) => automaton.ApplyMask(_state, logits, tokensLeft);

    public bool Advance(int token)
    {
        int next = automaton.Next(_state, token);
        if (next < 0)
        {
            // The engine samples from the masked logits, so this only happens if something else forced the token.
            _failed = true;
            _exhausted = true;
            return false;
        }
        _state = next;
        _exhausted = OnlyEndAllowed(automaton, vocabulary, next);
        return true;
    }

    public bool IsComplete => !_failed && automaton.IsAccepting(_state);

    public bool IsExhausted => _exhausted;

    public ITokenConstraint CreateFresh() => new GrammarConstraint(automaton, vocabulary);

    /// <summary>
    /// Nothing but an end-of-generation token may follow: stop here rather than spend a step sampling the end token
    /// (and, for vocabularies with no end token in the mask, rather than sample from all -infinity).
    /// </summary>
    private static bool OnlyEndAllowed(TokenAutomaton automaton, TokenVocabulary vocabulary, int state)
    {
        var mask = automaton.AllowedMask(state);
        var ends = vocabulary.EndOfGenerationIds;
        for (int w = 0; w < mask.Length; w++)
        {
            ulong bits = mask[w];
            if (bits == 0) continue;
            foreach (int e in ends)
                if (e >> 6 == w) bits &= ~(1UL << (e & 63));
            if (bits != 0) return false;
        }
        return true;
    }
}
