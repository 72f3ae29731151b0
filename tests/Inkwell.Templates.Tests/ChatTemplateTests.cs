using System.Text.Json;

namespace Inkwell.Templates.Tests;

/// <summary>The chat front end: standard variables, the system-role polyfill described in ../shared/templates/README.md, and the overloads.</summary>
public sealed class ChatTemplateTests
{
    private const string EchoTemplate = "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}[assistant:{% endif %}{{ eos_token }}";
    private const string NoSystemTemplate = "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}[{{ m.role }}:{{ m.content }}]{% endfor %}";
    private const string IgnoresSystemTemplate = "{% for m in messages %}{% if m.role != 'system' %}[{{ m.role }}:{{ m.content }}]{% endif %}{% endfor %}";

    [Fact]
    public void Standard_variables_reach_the_template()
    {
        var template = ChatTemplate.Parse(EchoTemplate);
        Assert.True(template.SupportsSystemRole);
        Assert.Equal("<s>[system:S][user:U][assistant:</s>", template.Render([new("system", "S"), new("user", "U")], true, "<s>", "</s>"));
        Assert.Equal("[user:U]", template.Render([new("user", "U")], false, "", ""));
    }

    [Theory]
    [InlineData(NoSystemTemplate)]
    [InlineData(IgnoresSystemTemplate)]
    public void Without_a_system_role_the_system_message_is_merged_into_the_next_user_message(string source)
    {
        var template = ChatTemplate.Parse(source);
        Assert.False(template.SupportsSystemRole);
        Assert.Equal("[user:S\nU][assistant:A]", template.Render([new("system", "S"), new("user", "U"), new("assistant", "A")], false, "", ""));
        Assert.Equal("[user:S1\nS2\nU]", template.Render([new("system", "S1"), new("system", "S2"), new("user", "U")], false, "", ""));
    }

    [Fact]
    public void A_system_message_not_followed_by_a_user_message_becomes_one()
    {
        var template = ChatTemplate.Parse(NoSystemTemplate);
        Assert.Equal("[user:S][assistant:A]", template.Render([new("system", "S"), new("assistant", "A")], false, "", ""));
        Assert.Equal("[user:U][user:S]", template.Render([new("user", "U"), new("system", "S")], false, "", ""));
    }

    [Fact]
    public void Extra_variables_are_plain_dotnet_or_json_values()
    {
        var template = ChatTemplate.Parse("{{ tools | tojson }}|{{ enable_thinking }}|{{ schema.type }}");
        var tools = new List<object?> { new Dictionary<string, object?> { ["name"] = "f", ["args"] = new[] { 1, 2 } } };
        using var schema = JsonDocument.Parse("""{"type": "object"}""");
        Assert.Equal(
            "[{\"name\": \"f\", \"args\": [1, 2]}]|False|object",
            template.Render([], false, "", "", new Dictionary<string, object?> { ["tools"] = tools, ["enable_thinking"] = false, ["schema"] = schema.RootElement }));
    }

    [Fact]
    public void Extra_variables_cannot_replace_the_standard_ones()
    {
        var template = ChatTemplate.Parse(EchoTemplate);
        Assert.Throws<ArgumentException>(() => template.Render([], false, "", "", new Dictionary<string, object?> { ["messages"] = "x" }));
    }

    [Fact]
    public void Rich_messages_keep_their_other_fields()
    {
        var template = ChatTemplate.Parse("{% for m in messages %}{% if m.tool_calls is defined %}{{ m.tool_calls[0].function.name }}({{ m.tool_calls[0].function.arguments | tojson }}){% else %}{{ m.content }}{% endif %};{% endfor %}");
        var messages = new List<IReadOnlyDictionary<string, object?>>
        {
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" },
            new Dictionary<string, object?>
            {
                ["role"] = "assistant",
                ["tool_calls"] = new[] { new Dictionary<string, object?> { ["function"] = new Dictionary<string, object?> { ["name"] = "get", ["arguments"] = new Dictionary<string, object?> { ["q"] = "x" } } } },
            },
        };
        Assert.Equal("hi;get({\"q\": \"x\"});", template.RenderDictionaries(messages, false, "", ""));

        using var json = JsonDocument.Parse("""[{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"function": {"name": "get", "arguments": {"q": "x"}}}]}]""");
        Assert.Equal("hi;get({\"q\": \"x\"});", template.Render(json.RootElement, false, "", ""));
    }

    [Fact]
    public void Json_messages_must_be_an_array()
    {
        using var json = JsonDocument.Parse("""{"role": "user"}""");
        Assert.Throws<ArgumentException>(() => ChatTemplate.Parse(EchoTemplate).Render(json.RootElement, false, "", ""));
    }

    [Fact]
    public void Syntax_errors_surface_from_parse()
    {
        var error = Assert.Throws<TemplateException>(() => ChatTemplate.Parse("{% for m in messages %}"));
        Assert.Contains("endfor", error.Problem);
    }
}
