using System.Text.Json;
using Inkwell.Templates;

namespace Inkwell.Cli.Commands;

/// <summary>
/// `inkwell template`: renders a chat template over a conversation and prints the prompt exactly (no trailing
/// newline added), for checking a template against what a model expects.
/// </summary>
public static class TemplateCommand
{
    private const string Help = """
        usage: inkwell template --template FILE --messages FILE [--bos-token T] [--eos-token T] [--no-generation-prompt]
        FILE for --messages holds a JSON array of {"role": ..., "content": ...}; the rendered prompt goes to stdout.
        """;

    public static int Run(string[] args, TextWriter? stdout = null)
    {
        stdout ??= Console.Out;
        if (args.Contains("--help")) { stdout.WriteLine(Help); return 0; }
        var a = new ArgReader(args, new HashSet<string> { "no-generation-prompt" });
        string templatePath = a.String("template") ?? throw new UsageException("--template FILE is required\n" + Help);
        string messagesPath = a.String("messages") ?? throw new UsageException("--messages FILE is required\n" + Help);
        string bos = a.String("bos-token") ?? "";
        string eos = a.String("eos-token") ?? "";
        bool generationPrompt = !a.Flag("no-generation-prompt");
        a.EnsureAllUsed();

        var template = ChatTemplate.Parse(ReadFile(templatePath, "--template"));
        JsonElement messages;
        try
        {
            using var doc = JsonDocument.Parse(ReadFile(messagesPath, "--messages"));
            messages = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{messagesPath}: not JSON: {e.Message}");
        }
        if (messages.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{messagesPath}: expected a JSON array of messages");
        stdout.Write(template.Render(messages, generationPrompt, bos, eos));
        stdout.Flush();
        return 0;
    }

    private static string ReadFile(string path, string option) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new FileNotFoundException($"{option} {path}: file not found", path);
}
