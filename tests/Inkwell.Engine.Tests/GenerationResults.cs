using Inkwell.Engine.Requests;

namespace Inkwell.Engine.Tests;

/// <summary>Reading an engine request's events to its end, as the tests that compare whole results do.</summary>
internal static class GenerationResults
{
    /// <summary>The finished result; a failure event fails the test with its message.</summary>
    public static async Task<GenerationResult> Collect(GenerationStream events)
    {
        GenerationResult? result = null;
        await foreach (var e in events.ReadAllAsync())
        {
            if (e is GenerationFailed f) Assert.Fail(f.Message);
            if (e is GenerationFinished done) result = done.Result;
        }
        return result ?? throw new InvalidOperationException("no result");
    }
}
