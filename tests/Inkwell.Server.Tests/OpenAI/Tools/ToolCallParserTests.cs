using System.Text.Json;
using Inkwell.Server.OpenAI.Tools;

namespace Inkwell.Server.Tests.OpenAI.Tools;

/// <summary>
/// The formats real models answer in when their templates offer tools, written as those models write them (the
/// templates' own instructions and vLLM's parser tests): Hermes / Qwen2.5, Llama 3.x JSON, Mistral [TOOL_CALLS].
/// </summary>
public sealed class ToolCallParserTests
{
    internal static ToolPlan Plan(string choice = "\"auto\"", bool? parallel = null)
    {
        using var tools = JsonDocument.Parse("""
            [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
             {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}}}}]
            """);
        using var toolChoice = JsonDocument.Parse(choice);
        return ToolPlanParser.Parse(tools.RootElement.Clone(), toolChoice.RootElement.Clone(), parallel)!;
    }

    private static void AssertCalls(ParsedToolOutput? parsed, string? content, params (string Name, string Arguments)[] calls)
    {
        Assert.NotNull(parsed);
        Assert.Equal(content, parsed.Content);
        Assert.Equal(calls.Length, parsed.Calls.Count);
        for (int i = 0; i < calls.Length; i++)
        {
            Assert.Equal(calls[i].Name, parsed.Calls[i].Name);
            // Arguments are the model's JSON text; compare as JSON values.
            Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(calls[i].Arguments).RootElement, JsonDocument.Parse(parsed.Calls[i].Arguments).RootElement),
                parsed.Calls[i].Arguments);
        }
    }

    [Fact]
    public void Hermes_one_call()
    {
        const string output = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "Paris"}"""));
    }

    [Fact]
    public void Hermes_several_calls_with_text_before_them()
    {
        const string output = "I'll look both up.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"Europe/Paris\"}}\n</tool_call>";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), "I'll look both up.\n",
            ("get_weather", """{"city": "Paris"}"""), ("get_time", """{"timezone": "Europe/Paris"}"""));
    }

    [Fact]
    public void Hermes_last_call_left_unclosed_at_the_end_of_generation()
    {
        const string output = "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}}\n";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_time", """{"timezone": "UTC"}"""));
    }

    [Fact]
    public void Hermes_calls_whose_closing_tags_were_left_out()
    {
        const string output = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "Oslo"}"""), ("get_time", "{}"));
    }

    [Fact]
    public void Parallel_calls_off_keeps_the_first()
    {
        const string output = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n"
            + "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan(parallel: false)), null, ("get_weather", """{"city": "Oslo"}"""));
    }

    [Fact]
    public void Llama_3_json_with_parameters()
    {
        const string output = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"San Francisco\"}}";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "San Francisco"}"""));
    }

    [Fact]
    public void Llama_3_python_tag_with_calls_separated_by_semicolons()
    {
        const string output = "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; {\"name\": \"get_time\", \"parameters\": {\"timezone\": \"CET\"}}";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "Paris"}"""), ("get_time", """{"timezone": "CET"}"""));
    }

    [Fact]
    public void Mistral_tool_calls_array()
    {
        const string output = "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}}]";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "Paris"}"""), ("get_time", """{"timezone": "UTC"}"""));
    }

    [Theory]
    // Mistral's v11+ tokenizers (Mistral Small 3.2's template, vLLM's mistral parser): name, [ARGS], the arguments.
    [InlineData("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{\"timezone\": \"UTC\"}")]
    // with a call id between the name and the arguments
    [InlineData("[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]f5g6h7i8j[ARGS]{\"timezone\": \"UTC\"}")]
    public void Mistral_v11_calls_name_then_arguments(string output)
    {
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "Paris"}"""), ("get_time", """{"timezone": "UTC"}"""));
        // [ARGS] and [CALL_ID] are special tokens there: the output stage must keep their text for the parser.
        Assert.True(ToolCallParser.IsCallToken("[ARGS]"));
        Assert.True(ToolCallParser.IsCallToken("[CALL_ID]"));
    }

    [Fact]
    public void Arguments_sent_as_json_text_are_read_as_the_object()
    {
        const string output = "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}]";
        AssertCalls(ToolCallParser.ParseAuto(output, Plan()), null, ("get_weather", """{"city": "Paris"}"""));
    }

    [Theory]
    [InlineData("The weather in Paris is usually mild in spring.")]
    [InlineData("{\"city\": \"Paris\"}")] // JSON, but not a call
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par")] // cut short
    [InlineData("<tool_call>\n{\"name\": \"book_flight\", \"arguments\": {}}\n</tool_call>")] // not an offered function
    [InlineData("<tool_call>\nget_weather(city='Paris')\n</tool_call>")]
    [InlineData("[TOOL_CALLS][]")]
    [InlineData("[TOOL_CALLS]book_flight[ARGS]{}")] // not an offered function
    [InlineData("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Pa")] // cut short
    [InlineData("[TOOL_CALLS]get_weather[ARGS]{}[TOOL_CALLS]get_time")] // a second call without arguments
    [InlineData("{\"name\": \"get_weather\", \"arguments\": [1, 2]}")] // arguments must be an object
    public void Anything_else_is_content(string output)
    {
        Assert.Null(ToolCallParser.ParseAuto(output, Plan()));
    }

    [Fact]
    public void Required_reads_the_grammar_shapes()
    {
        var calls = ToolCallParser.ParseRequired("""[{"name":"get_weather","arguments":{"city":"Lyon"}}, {"name":"get_time","arguments":{}}]""", Plan("\"required\""));
        Assert.Equal(["get_weather", "get_time"], calls!.Select(c => c.Name));
        Assert.Equal("""{"city":"Lyon"}""", calls![0].Arguments);
        Assert.Single(ToolCallParser.ParseRequired("""{"name": "get_time", "arguments": {"timezone": "UTC"}}""", Plan("\"required\"", parallel: false))!);
        Assert.Null(ToolCallParser.ParseRequired("""[{"name":"get_weather","arguments":{"ci""", Plan("\"required\"")));
    }

    [Fact]
    public void Partial_markers_at_the_end_are_found()
    {
        Assert.Equal(5, ToolCallParser.PartialMarkerLength("Hello <tool"));
        Assert.Equal(1, ToolCallParser.PartialMarkerLength("a ["));
        Assert.Equal(0, ToolCallParser.PartialMarkerLength("Hello <b>"));
        Assert.Equal(6, ToolCallParser.FirstMarker("Hello <tool_call>"));
    }
}
