using System.Numerics;
using System.Text;
using Inkwell.Engine.Grammar;

namespace Inkwell.Engine.Tests.Grammar;

/// <summary>Generates outputs by picking uniformly among the tokens a grammar allows, as a model with flat logits would.</summary>
internal static class RandomWalker
{
    public sealed record Result(List<string> Finished, int Unfinished);

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    public static Result Walk(TokenAutomaton automaton, TestVocabulary vocab, int runs, int seed, int maxTokens = 400, double eosProbability = 0.3)
    {
        var finished = new List<string>();
        int unfinished = 0;
        var bytes = new List<byte>();
        for (int run = 0; run < runs; run++)
        {
            var rng = new Random(seed * 1000 + run);
            int state = automaton.InitialState;
            bytes.Clear();
            bool done = false;
            for (int step = 0; step < maxTokens && !done; step++)
            {
                var mask = automaton.AllowedMask(state);
                bool eosAllowed = (mask[vocab.Eos >> 6] & (1UL << (vocab.Eos & 63))) != 0;
                Assert.Equal(automaton.IsAccepting(state), eosAllowed);
                if (eosAllowed && rng.NextDouble() < eosProbability) { done = true; break; }
                int count = 0;
                foreach (ulong w in mask) count += BitOperations.PopCount(w);
                if (eosAllowed) count--;
                Assert.True(count > 0 || eosAllowed, $"stuck in non-accepting state {state} after '{Encoding.UTF8.GetString([.. bytes])}'");
                if (count == 0) { done = true; break; }
                int token = Pick(mask, rng.Next(count), vocab.Eos);
                int next = automaton.Next(state, token);
                Assert.True(next >= 0, $"token {token} is in the mask but Next refused it");
                bytes.AddRange(vocab.Tokens[token]);
                state = next;
                // A random token outside the mask must be refused.
                int other = rng.Next(automaton.VocabularySize);
                if (!automaton.IsAllowed(state, other)) Assert.Equal(-1, automaton.Next(state, other));
            }
            if (done) finished.Add(StrictUtf8.GetString([.. bytes]));
            else unfinished++;
        }
        return new Result(finished, unfinished);
    }

    private static int Pick(ReadOnlySpan<ulong> mask, int k, int skip)
    {
        for (int w = 0; w < mask.Length; w++)
        {
            ulong bits = mask[w];
            if (skip >> 6 == w) bits &= ~(1UL << (skip & 63));
            int c = BitOperations.PopCount(bits);
            if (k >= c) { k -= c; continue; }
            for (; k > 0; k--) bits &= bits - 1;
            return (w << 6) + BitOperations.TrailingZeroCount(bits);
        }
        throw new InvalidOperationException("mask has fewer bits than counted");
    }

    /// <summary>
    /// As an engine with flat logits and max_new_tokens = budget drives the grammar: each step masks through
    /// <see cref="TokenAutomaton.ApplyMask(int, Span{float}, int)"/> with the tokens left and picks uniformly among the
    /// tokens still allowed (ending at an allowed end token with eosProbability). A walk ends at an end token, when
    /// nothing but the end token is allowed, or when the budget is spent; the state it ends in is returned with the text.
    /// </summary>
    public static List<(string Text, bool Accepting)> WalkWithBudget(TokenAutomaton automaton, TestVocabulary vocab, int runs, int seed,
        Func<Random, int> budget, double eosProbability = 0.3)
    {
        var outputs = new List<(string, bool)>(runs);
        var logits = new float[automaton.VocabularySize];
        var allowed = new List<int>();
        var bytes = new List<byte>();
        for (int run = 0; run < runs; run++)
        {
            var rng = new Random(seed * 1000 + run);
            int maxTokens = budget(rng);
            int state = automaton.InitialState;
            bytes.Clear();
            for (int step = 0; step < maxTokens; step++)
            {
                Array.Clear(logits);
                automaton.ApplyMask(state, logits, maxTokens - step);
                allowed.Clear();
                bool eosAllowed = false;
                for (int t = 0; t < logits.Length; t++)
                {
                    if (!float.IsFinite(logits[t])) continue;
                    if (t == vocab.Eos) eosAllowed = true;
                    else allowed.Add(t);
                }
                Assert.True(allowed.Count > 0 || eosAllowed, $"nothing allowed after '{Encoding.UTF8.GetString([.. bytes])}'");
                if (allowed.Count == 0 || (eosAllowed && rng.NextDouble() < eosProbability)) break;
                int token = allowed[rng.Next(allowed.Count)];
                state = automaton.Next(state, token);
                Assert.True(state >= 0, $"token {token} is in the mask but Next refused it");
                bytes.AddRange(vocab.Tokens[token]);
            }
            outputs.Add((Encoding.UTF8.GetString([.. bytes]), automaton.IsAccepting(state)));
        }
        return outputs;
    }
}
