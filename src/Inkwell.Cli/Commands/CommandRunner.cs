namespace Inkwell.Cli.Commands;

/// <summary>Dispatches `inkwell COMMAND ...` and turns errors into one clear line and an exit code.</summary>
public static class CommandRunner
{
    public const string Usage = """
        usage: inkwell COMMAND [options]
          serve      run the HTTP server (TGI and OpenAI APIs); no model = the embedded stories260K
          generate   stream a continuation to stdout
          tokenize   print token ids of stdin
          bench      prompt-processing and generation speed (like llama-bench)
          perplexity perplexity of a text file, computed as llama-perplexity does
          models     list the registry's models and deployments (--registry DIR)
          template   render a chat template over a JSON conversation
        run `inkwell COMMAND --help` for a command's options
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args[1..];
        try
        {
            return args[0] switch
            {
                "generate" => await GenerateCommand.RunAsync(rest),
                "tokenize" => TokenizeCommand.Run(rest),
                "bench" => BenchCommand.Run(rest),
                "perplexity" => PerplexityCommand.Run(rest),
                "serve" => await ServeCommand.RunAsync(rest),
                "models" => ModelsCommand.Run(rest),
                "template" => TemplateCommand.Run(rest),
                _ => throw new UsageException($"unknown command '{args[0]}'\n{Usage}"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"inkwell {args[0]}: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException or ArgumentException or Inkwell.Templates.TemplateException)
        {
            Console.Error.WriteLine($"inkwell {args[0]}: error: {e.Message}");
            return 1;
        }
    }
}
