using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>The server shares one tokenizer across requests: concurrent encodes must not disturb each other.</summary>
public sealed class TokenizerConcurrencyTests
{
    [SharedTheory]
    [InlineData("llama-spm")]
    [InlineData("qwen2")]
    public void Concurrent_encodes_all_match_the_reference(string suite)
    {
        var tokenizer = VocabSuites.Tokenizer(suite);
        var cases = VocabSuites.Load(suite);
        var work = Enumerable.Range(0, 8).SelectMany(_ => cases).ToArray();
        var mismatches = new System.Collections.Concurrent.ConcurrentBag<string>();

        Parallel.ForEach(work, new ParallelOptions { MaxDegreeOfParallelism = 4 }, item =>
        {
            var ids = tokenizer.EncodeToIds(item.Text, addSpecialTokens: false);
            if (!ids.SequenceEqual(item.Ids)) mismatches.Add(item.Text);
        });

        Assert.Empty(mismatches);
    }
}
