using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Cli.Commands;
using Inkwell.TestSupport;

namespace Inkwell.Cli.Tests;

/// <summary>`inkwell template` against llama.cpp's expected prompts (../shared/templates/conformance.json).</summary>
public sealed class TemplateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-template-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [SharedTheory]
    [InlineData("Llama-3")]
    [InlineData("mlabonne/AlphaMonarch-7B")]
    [InlineData("mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)")]
    [InlineData("ibm-granite/granite-3.0-8b-instruct")]
    public void RendersTheConformanceCase(string name)
    {
        var (args, expected) = Case(name);
        var stdout = new StringWriter();
        Assert.Equal(0, TemplateCommand.Run(args, stdout));
        Assert.Equal(expected, stdout.ToString());
    }

    [SharedFact]
    public void NoGenerationPromptLeavesOffTheAssistantHeader()
    {
        var (args, expected) = Case("Phi-3-small");
        var stdout = new StringWriter();
        Assert.Equal(0, TemplateCommand.Run([.. args, "--no-generation-prompt"], stdout));
        // Phi-3's generation prompt is the assistant header (Microsoft's model card: "<|assistant|>\n").
        Assert.Equal(expected[..^"<|assistant|>\n".Length], stdout.ToString());
    }

    [Fact]
    public async Task MissingFilesAndBadJsonAreClearErrors()
    {
        string template = Path.Combine(_dir, "t.jinja");
        File.WriteAllText(template, "{{ messages[0].content }}");
        string bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, "[{");
        var stderr = new StringWriter();
        var previous = Console.Error;
        Console.SetError(stderr);
        try
        {
            Assert.Equal(1, await CommandRunner.RunAsync(["template", "--template", template, "--messages", Path.Combine(_dir, "none.json")]));
            Assert.Equal(1, await CommandRunner.RunAsync(["template", "--template", template, "--messages", bad]));
            Assert.Equal(2, await CommandRunner.RunAsync(["template", "--messages", bad]));
        }
        finally
        {
            Console.SetError(previous);
        }
        string errors = stderr.ToString();
        Assert.Contains("none.json: file not found", errors);
        Assert.Contains("bad.json: not JSON", errors);
        Assert.Contains("--template FILE is required", errors);
    }

    private (string[] Args, string Expected) Case(string name)
    {
        var conformance = JsonNode.Parse(File.ReadAllText(RepoPaths.InShared("templates", "conformance.json")))!;
        var c = conformance["cases"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!;
        Assert.True(conformance["add_generation_prompt"]!.GetValue<bool>());
        string template = Path.Combine(_dir, "template.jinja");
        string messages = Path.Combine(_dir, "messages.json");
        File.WriteAllText(template, c["template"]!.GetValue<string>());
        File.WriteAllText(messages, conformance["messages"]!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return (["--template", template, "--messages", messages,
            "--bos-token", c["bos_token"]!.GetValue<string>(), "--eos-token", c["eos_token"]!.GetValue<string>()],
            c["expected"]!.GetValue<string>());
    }
}
