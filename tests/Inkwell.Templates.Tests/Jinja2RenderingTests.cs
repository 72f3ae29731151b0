using System.Text.Json;
using Inkwell.Templates;
using Inkwell.TestSupport;

namespace Inkwell.Templates.Tests;

/// <summary>
/// The real templates of ../shared/templates (Llama 3.1, Qwen2.5, Gemma 2, Phi-3.5, SmolLM3, Mistral Nemo) render as
/// Python's jinja2 renders them in Hugging Face's setup: tests/data/templates/expected.json, made by
/// render-with-jinja2.py there, for conformance.json's conversation.
/// </summary>
public sealed class Jinja2RenderingTests
{
    private static readonly Lazy<JsonDocument> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "expected.json"))));

    public static TheoryData<string> Names() => new(Expected.Value.RootElement.EnumerateObject().Select(p => p.Name));

    [SharedTheory]
    [MemberData(nameof(Names))]
    public void Renders_like_jinja2(string name)
    {
        var expected = Expected.Value.RootElement.GetProperty(name);
        var conversation = JsonDocument.Parse(File.ReadAllText(RepoPaths.InShared("templates", "conformance.json"))).RootElement;
        var messages = conversation.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToList();
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", name + ".jinja")));

        string prompt = template.Render(messages, addGenerationPrompt: true,
            expected.GetProperty("bos_token").GetString()!, expected.GetProperty("eos_token").GetString()!);

        Assert.Equal(expected.GetProperty("expected").GetString(), prompt);
    }
}
