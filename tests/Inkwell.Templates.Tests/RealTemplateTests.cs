using Inkwell.TestSupport;

namespace Inkwell.Templates.Tests;

/// <summary>The full-size chat templates of real models in ../shared/templates, rendered for a short conversation.</summary>
public sealed class RealTemplateTests
{
    private const string SystemText = "You are a terse assistant.";
    private const string User1 = "What is 2+2?";
    private const string Assistant1 = "4";
    private const string User2 = "And 3+3?";

    private static readonly ChatMessage[] Conversation =
    [
        new("system", SystemText),
        new("user", User1),
        new("assistant", Assistant1),
        new("user", User2),
    ];

    /// <summary>
    /// Per template file: the tokens to render with, the text the prompt must start with and end with (read from the
    /// template source), and the order the contents must appear in.
    /// </summary>
    public static TheoryData<string, string, string, string, string[]> Templates() => new()
    {
        {
            "HuggingFaceTB-SmolLM3-3B.jinja", "", "<|im_start|>system\n## Metadata\n\n", "<|im_start|>assistant\n",
            [SystemText, User1, Assistant1, User2]
        },
        {
            "Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_start|>system\n" + SystemText + "<|im_end|>\n", "<|im_start|>assistant\n",
            [SystemText, User1, Assistant1, User2]
        },
        {
            // Gemma has no system role: the system text is merged into the first user turn.
            "google-gemma-2-2b-it.jinja", "<bos>", "<bos><start_of_turn>user\n" + SystemText + "\n" + User1 + "<end_of_turn>\n", "<start_of_turn>model\n",
            [SystemText, User1, Assistant1, User2]
        },
        {
            "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n",
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            [SystemText, User1, Assistant1, User2]
        },
        {
            "microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|system|>\n" + SystemText + "<|end|>\n", "<|assistant|>\n",
            [SystemText, User1, Assistant1, User2]
        },
        {
            // Mistral Nemo puts the system message into the last user turn.
            "mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "<s>[INST]" + User1 + "[/INST]", "[INST]" + SystemText + "\n\n" + User2 + "[/INST]",
            [User1, Assistant1, SystemText, User2]
        },
    };

    [SharedTheory]
    [MemberData(nameof(Templates))]
    public void Renders_a_conversation_with_generation_prompt(string file, string bos, string expectedStart, string expectedEnd, string[] contentOrder)
    {
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", file)));

        var prompt = template.Render(Conversation, addGenerationPrompt: true, bos, "</s>");

        Assert.StartsWith(expectedStart, prompt);
        Assert.EndsWith(expectedEnd, prompt);
        var position = 0;
        foreach (var content in contentOrder)
        {
            var found = prompt.IndexOf(content, position, StringComparison.Ordinal);
            Assert.True(found >= 0, $"'{content}' does not appear after position {position} in:\n{prompt}");
            position = found + content.Length;
        }
    }

    [SharedTheory]
    [MemberData(nameof(Templates))]
    public void Without_generation_prompt_the_prompt_does_not_end_with_an_open_assistant_turn(string file, string bos, string expectedStart, string expectedEnd, string[] contentOrder)
    {
        _ = expectedStart;
        _ = contentOrder;
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", file)));
        var conversation = Conversation.Append(new ChatMessage("assistant", "6")).ToArray();

        var prompt = template.Render(conversation, addGenerationPrompt: false, bos, "</s>");

        Assert.False(prompt.EndsWith(expectedEnd, StringComparison.Ordinal), prompt);
        Assert.True(prompt.LastIndexOf("6", StringComparison.Ordinal) > prompt.LastIndexOf(User2, StringComparison.Ordinal), prompt);
    }

    [SharedFact]
    public void Only_gemma_lacks_a_system_role()
    {
        foreach (var file in Directory.GetFiles(RepoPaths.InShared("templates"), "*.jinja"))
        {
            var template = ChatTemplate.Parse(File.ReadAllText(file));
            Assert.Equal(!file.Contains("gemma", StringComparison.Ordinal), template.SupportsSystemRole);
        }
    }

    [SharedFact]
    public void Gemma_still_rejects_roles_that_do_not_alternate()
    {
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", "google-gemma-2-2b-it.jinja")));

        var error = Assert.Throws<TemplateException>(() =>
            template.Render([new("user", "a"), new("user", "b")], true, "<bos>", "<eos>"));

        Assert.True(error.RaisedByTemplate);
        Assert.Equal("Conversation roles must alternate user/assistant/user/assistant/...", error.Problem);
        Assert.Equal(1, error.Line);
    }

    [SharedFact]
    public void Llama_3_1_renders_tools_as_indented_json_in_the_first_user_message()
    {
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", "meta-llama-Llama-3.1-8B-Instruct.jinja")));
        var tools = System.Text.Json.JsonDocument.Parse("""
            [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "required": ["city"]}}}]
            """).RootElement;

        var prompt = template.Render([new("user", "Weather in Paris?")], true, "<|begin_of_text|>", "<|eot_id|>",
            new Dictionary<string, object?> { ["tools"] = tools, ["date_string"] = "01 Jan 2025" });

        // json.dumps(tool, indent=4), as Python writes it
        const string ToolJson = "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"parameters\": {\n"
            + "            \"type\": \"object\",\n            \"required\": [\n                \"city\"\n            ]\n        }\n    }\n}";
        Assert.Contains("Today Date: 01 Jan 2025\n\n", prompt);
        Assert.Contains("<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions", prompt);
        Assert.Contains(ToolJson + "\n\nWeather in Paris?<|eot_id|>", prompt);
    }
}
