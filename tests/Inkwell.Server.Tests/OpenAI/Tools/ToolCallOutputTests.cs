using System.Text;
using Inkwell.Server.OpenAI;
using Inkwell.Server.OpenAI.Tools;

namespace Inkwell.Server.Tests.OpenAI.Tools;

/// <summary>
/// A streamed answer and a unary one agree: the content pieces sent while streaming, plus what is sent at the end,
/// equal the unary content, the calls are the same, and no part of a call is ever sent as content.
/// </summary>
public sealed class ToolCallOutputTests
{
    private static int _ids;
    private static string NextId() => "call_" + Interlocked.Increment(ref _ids);

    /// <summary>Streams <paramref name="pieces"/> through one output and completes the same text through another.</summary>
    private static (string Streamed, List<string> PiecesBeforeEnd, List<ToolCallDeltaDto> Calls, string? Content, IReadOnlyList<ToolCallDto>? UnaryCalls) Run(ToolPlan plan, params string[] pieces)
    {
        var stream = new ToolCallOutput(plan, NextId);
        var streamed = new StringBuilder();
        var before = new List<string>();
        var calls = new List<ToolCallDeltaDto>();
        foreach (var piece in pieces)
        {
            var (content, deltas) = stream.Feed(piece);
            streamed.Append(content);
            before.Add(content);
            if (deltas is not null) calls.AddRange(deltas);
        }
        var (rest, finalCalls) = stream.Finish();
        streamed.Append(rest);
        calls.AddRange(finalCalls);
        var (unaryContent, unaryCalls) = new ToolCallOutput(plan, NextId).Complete(string.Concat(pieces));
        return (streamed.ToString(), before, calls, unaryContent, unaryCalls);
    }

    [Fact]
    public void Text_before_a_hermes_call_streams_and_the_call_does_not()
    {
        string[] pieces = ["Let", " me", " check", ".\n", "<", "tool", "_call", ">\n{\"name\": \"get_weather\",", " \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"];
        var (streamed, before, calls, content, unaryCalls) = Run(ToolCallParserTests.Plan(), pieces);
        Assert.Equal("Let me check.\n", content);
        Assert.Equal(content, streamed);
        Assert.Equal("Let me check.\n", string.Concat(before)); // all of it before the end, none of the call
        var call = Assert.Single(calls);
        Assert.Equal(0, call.Index);
        Assert.Equal("function", call.Type);
        Assert.Equal("get_weather", call.Function.Name);
        Assert.Equal(unaryCalls!.Single().Function.Arguments, call.Function.Arguments);
        Assert.Equal("""{"city": "Paris"}""", call.Function.Arguments);
    }

    [Fact]
    public void Plain_text_with_a_lookalike_streams_whole()
    {
        string[] pieces = ["Use", " <", "b", "> for bold", " and [", "TOOL", "S] for lists."];
        var (streamed, before, calls, content, unaryCalls) = Run(ToolCallParserTests.Plan(), pieces);
        Assert.Equal("Use <b> for bold and [TOOLS] for lists.", content);
        Assert.Null(unaryCalls);
        Assert.Empty(calls);
        Assert.Equal(content, streamed);
        Assert.Equal(content, string.Concat(before)); // nothing was left for the end
    }

    [Fact]
    public void A_llama_json_call_is_held_from_its_first_brace()
    {
        string[] pieces = ["{\"", "name", "\": \"get_time\", \"parameters\": {\"timezone\": \"UTC\"}}"];
        var (streamed, before, calls, content, unaryCalls) = Run(ToolCallParserTests.Plan(), pieces);
        Assert.Null(content);
        Assert.Equal("", streamed);
        Assert.All(before, piece => Assert.Equal("", piece));
        Assert.Equal("get_time", Assert.Single(calls).Function.Name);
        Assert.Equal("get_time", unaryCalls!.Single().Function.Name);
    }

    [Fact]
    public void Json_that_is_no_call_is_content_at_the_end()
    {
        var (streamed, _, calls, content, _) = Run(ToolCallParserTests.Plan(), "{\"city\"", ": \"Paris\"}");
        Assert.Equal("{\"city\": \"Paris\"}", content);
        Assert.Equal(content, streamed);
        Assert.Empty(calls);
    }

    [Fact]
    public void Leading_blank_text_before_a_call_is_no_content()
    {
        var (streamed, _, calls, content, _) = Run(ToolCallParserTests.Plan(), "\n\n", "[TOOL_CALLS]", "[{\"name\": \"get_time\", \"arguments\": {}}]");
        Assert.Null(content);
        Assert.Equal("", streamed);
        Assert.Single(calls);
    }

    [Fact]
    public void A_named_function_streams_its_arguments()
    {
        var plan = ToolCallParserTests.Plan("""{"type": "function", "function": {"name": "get_weather"}}""");
        var (streamed, _, calls, content, unaryCalls) = Run(plan, "{\"city\"", ":\"Paris\"", "}");
        Assert.Null(content);
        Assert.Equal("", streamed);
        Assert.Equal(3, calls.Count);
        Assert.NotNull(calls[0].Id);
        Assert.Equal("get_weather", calls[0].Function.Name);
        Assert.All(calls.Skip(1), c => Assert.Null(c.Id));
        Assert.Equal("{\"city\":\"Paris\"}", string.Concat(calls.Select(c => c.Function.Arguments)));
        Assert.Equal("{\"city\":\"Paris\"}", unaryCalls!.Single().Function.Arguments);
    }

    [Fact]
    public void Required_output_cut_short_is_content()
    {
        var plan = ToolCallParserTests.Plan("\"required\"");
        var (streamed, _, calls, content, unaryCalls) = Run(plan, "[{\"name\":\"get_weather\",", "\"arguments\":{\"ci");
        Assert.Equal("[{\"name\":\"get_weather\",\"arguments\":{\"ci", content);
        Assert.Null(unaryCalls);
        Assert.Equal(content, streamed);
        Assert.Empty(calls);
    }

    [Fact]
    public void Whole_calls_are_told_from_cut_short_ones()
    {
        // The engine says "length" when a grammar closes its JSON on the last allowed token: the calls decide.
        var named = ToolCallParserTests.Plan("""{"type": "function", "function": {"name": "get_time"}}""");
        var whole = new ToolCallOutput(named, NextId);
        whole.Complete("{\"timezone\": \"UTC\"}");
        Assert.True(whole.CallsComplete());
        var cut = new ToolCallOutput(named, NextId);
        cut.Complete("{\"timezone\": \"U");
        Assert.False(cut.CallsComplete());

        var required = new ToolCallOutput(ToolCallParserTests.Plan("\"required\""), NextId);
        required.Complete("[{\"name\":\"get_time\",\"arguments\":{}}]");
        Assert.True(required.CallsComplete());
        var auto = new ToolCallOutput(ToolCallParserTests.Plan(), NextId);
        auto.Complete("No call here.");
        Assert.False(auto.CallsComplete());
    }
}
