using Inkwell.Server.Hosting;
using Inkwell.Server.OpenAI;
using Inkwell.Server.Tests.Tgi;
using static Inkwell.Server.Tests.OpenAI.Http;

namespace Inkwell.Server.Tests.OpenAI;

public sealed class StopTrimmerTests
{
    [Fact]
    public void HoldsBackAPossibleStopUntilItIsDecided()
    {
        var t = new StopTrimmer(["END"]);
        Assert.Equal("abc", t.Push("abc"));
        Assert.Equal("", t.Push("E"));      // could be the start of END
        Assert.Equal("Ex", t.Push("x"));    // it was not
        Assert.Equal("", t.Push("EN"));
        // The engine's final text keeps the stop sequence; OpenAI's does not.
        Assert.Equal("", t.Finish("abcExEND", "END"));
        Assert.Equal("abcEx", t.Emitted);
    }

    [Fact]
    public void WithoutAStopTheRestIsSentAtTheEnd()
    {
        var t = new StopTrimmer(["\n\n"]);
        Assert.Equal("one", t.Push("one\n"));
        Assert.Equal("\n", t.Finish("one\n", null));
        Assert.Equal("one\n", t.Emitted);
    }
}

public sealed class OpenAIOverloadTests
{
    [Fact]
    public async Task MoreChoicesThanPermitsIsA429InOpenAIShape()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxConcurrentRequests = 1 });
        var (status, body) = await PostJson(server.Client, "/v1/completions",
            new { model = server.State.ModelId, prompt = "Once upon a time", n = 2, max_tokens = 4 });
        Assert.Equal(429, status);
        AssertOpenAIError(body, null);
        Assert.Equal("Model is overloaded", body["error"]!["message"]!.GetValue<string>());
        // The permits came back: a single choice runs.
        (status, _) = await PostJson(server.Client, "/v1/completions", new { model = server.State.ModelId, prompt = "Once upon a time", max_tokens = 4 });
        Assert.Equal(200, status);
    }
}
