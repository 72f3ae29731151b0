using Inkwell.Engine.Speculation;

namespace Inkwell.Engine.Tests.Speculation;

public class PromptLookupDrafterTests
{
    [Fact]
    public void Proposes_what_followed_the_latest_match_of_the_longest_suffix()
    {
        // Suffix [7, 8, 9] occurs at 1 (followed by 4, 5) and at 6 (followed by 1, 2): the later one wins.
        int[] tokens = [0, 7, 8, 9, 4, 5, 7, 8, 9, 1, 2, 3, 7, 8, 9];
        var draft = new int[3];
        Assert.Equal(3, PromptLookupDrafter.Lookup(tokens, draft));
        Assert.Equal([1, 2, 3], draft);
    }

    [Fact]
    public void Falls_back_to_shorter_ngrams_and_stops_at_the_end_of_the_sequence()
    {
        // No earlier [5, 6] nor [4, 5, 6]; the last token 6 occurs at 2, followed by 3, 4, 5, 6 (cut to the limit).
        int[] tokens = [1, 2, 6, 3, 9, 5, 6];
        var draft = new int[8];
        Assert.Equal(4, PromptLookupDrafter.Lookup(tokens, draft));
        Assert.Equal([3, 9, 5, 6], draft[..4]);
        Assert.Equal(0, PromptLookupDrafter.Lookup([1, 2, 3], draft));
        Assert.Equal(0, PromptLookupDrafter.Lookup([4], draft));
    }
}
