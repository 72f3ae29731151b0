using System.Text.Json;
using Inkwell.TestSupport;

namespace Inkwell.Templates.Tests;

/// <summary>
/// Tool calling through real templates: tests/data/templates/tool-conversation.json (tools, an assistant tool call with
/// its arguments as an object, the tool's result) rendered as Python's jinja2 renders it in Hugging Face's setup
/// (expected-tools.json, made by render-tools-with-jinja2.py there), and what each template's probes find.
/// </summary>
public sealed class ToolRenderingTests
{
    private static readonly Lazy<JsonDocument> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "expected-tools.json"))));

    private static readonly Lazy<JsonDocument> Conversation = new(() =>
        JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "tool-conversation.json"))));

    public static TheoryData<string> Names() => new(Expected.Value.RootElement.EnumerateObject().Select(p => p.Name));

    [SharedTheory]
    [MemberData(nameof(Names))]
    public void Tools_calls_and_results_render_like_jinja2(string name)
    {
        var expected = Expected.Value.RootElement.GetProperty(name);
        var conversation = Conversation.Value.RootElement;
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", name + ".jinja")));

        string prompt = template.Render(conversation.GetProperty("messages"), addGenerationPrompt: true,
            expected.GetProperty("bos_token").GetString()!, expected.GetProperty("eos_token").GetString()!,
            new Dictionary<string, object?> { ["tools"] = conversation.GetProperty("tools") });

        Assert.Equal(expected.GetProperty("expected").GetString(), prompt);
    }

    /// <summary>Read from each template's source: which of tools, tool_calls and tool messages it writes into the prompt.</summary>
    public static TheoryData<string, bool, bool, bool, bool> Capabilities() => new()
    {
        // file, tools, tool calls, tool results, 9-character ids only
        { "Qwen-Qwen2.5-7B-Instruct.jinja", true, true, true, false },
        { "meta-llama-Llama-3.1-8B-Instruct.jinja", true, true, true, false },
        // raise_exception("Tool call IDs should be alphanumeric strings with length 9!")
        { "mistralai-Mistral-Nemo-Instruct-2407.jinja", true, true, true, true },
        // writes a tool message as a user turn, ignores tools and tool_calls
        { "HuggingFaceTB-SmolLM3-3B.jinja", false, false, true, false },
        // only system/user/assistant content
        { "microsoft-Phi-3.5-mini-instruct.jinja", false, false, false, false },
        // a tool turn breaks its user/assistant alternation check
        { "google-gemma-2-2b-it.jinja", false, false, false, false },
    };

    [SharedTheory]
    [MemberData(nameof(Capabilities))]
    public void Probes_find_what_each_template_renders(string file, bool tools, bool toolCalls, bool toolResults, bool nineCharacterIds)
    {
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", file)));
        Assert.Equal(tools, template.SupportsTools);
        Assert.Equal(toolCalls, template.SupportsToolCalls);
        Assert.Equal(toolResults, template.SupportsToolResponses);
        Assert.Equal(nineCharacterIds, template.RequiresNineCharacterToolCallIds);
    }

    [Fact]
    public void Probes_on_small_templates()
    {
        var none = ChatTemplate.Parse("{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}");
        Assert.False(none.SupportsTools);
        Assert.False(none.SupportsToolCalls);
        Assert.True(none.SupportsToolResponses); // a tool message's content is written like any other

        var all = ChatTemplate.Parse(
            "{% for t in tools %}{{ t.function.name }}{% endfor %}{% for m in messages %}[{{ m.role }}:{{ m.content }}" +
            "{% for c in m.tool_calls %}{{ c.function.arguments | tojson }}{% endfor %}]{% endfor %}");
        Assert.True(all.SupportsTools);
        Assert.True(all.SupportsToolCalls);
        Assert.True(all.SupportsToolResponses);
        Assert.False(all.RequiresNineCharacterToolCallIds);

        var nine = ChatTemplate.Parse(
            "{% for m in messages %}{% for c in m.tool_calls %}{% if c.id | length != 9 %}{{ raise_exception('ids of 9') }}{% endif %}" +
            "{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}");
        Assert.True(nine.SupportsToolCalls);
        Assert.True(nine.RequiresNineCharacterToolCallIds);
    }
}
