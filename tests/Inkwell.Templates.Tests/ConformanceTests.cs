using System.Text.Json;
using Inkwell.TestSupport;

namespace Inkwell.Templates.Tests;

/// <summary>Every case of ../shared/templates/conformance.json (prompts produced by llama.cpp's chat formatting).</summary>
public sealed class ConformanceTests
{
    private static readonly Lazy<JsonDocument?> Document = new(() =>
    {
        var path = RepoPaths.InShared("templates", "conformance.json");
        return File.Exists(path) ? JsonDocument.Parse(File.ReadAllText(path)) : null;
    });

    /// <summary>Case names (kept small so each case is its own test); an absent file yields a placeholder the SharedTheory skips.</summary>
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        if (Document.Value is null)
        {
            data.Add("(conformance.json not found)");
            return data;
        }
        foreach (var testCase in Document.Value.RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(testCase.GetProperty("name").GetString()!);
        }
        return data;
    }

    [SharedTheory]
    [MemberData(nameof(CaseNames))]
    public void Renders_like_llama_cpp(string caseName)
    {
        var root = Document.Value!.RootElement;
        var testCase = root.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == caseName);
        var messages = root.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToList();

        var template = ChatTemplate.Parse(testCase.GetProperty("template").GetString()!);
        var prompt = template.Render(
            messages,
            root.GetProperty("add_generation_prompt").GetBoolean(),
            testCase.GetProperty("bos_token").GetString()!,
            testCase.GetProperty("eos_token").GetString()!);

        Assert.Equal(testCase.GetProperty("expected").GetString(), prompt);
    }

    [SharedFact]
    public void The_json_messages_overload_agrees_with_the_record_overload()
    {
        var root = Document.Value!.RootElement;
        var records = root.GetProperty("messages").EnumerateArray()
            .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToList();
        foreach (var testCase in root.GetProperty("cases").EnumerateArray())
        {
            var template = ChatTemplate.Parse(testCase.GetProperty("template").GetString()!);
            var bos = testCase.GetProperty("bos_token").GetString()!;
            var eos = testCase.GetProperty("eos_token").GetString()!;
            Assert.Equal(
                template.Render(records, true, bos, eos),
                template.Render(root.GetProperty("messages"), true, bos, eos));
        }
    }
}
