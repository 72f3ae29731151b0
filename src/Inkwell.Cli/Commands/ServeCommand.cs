namespace Inkwell.Cli.Commands;

public static class ServeCommand
{
    public static Task<int> RunAsync(string[] args) => throw new UsageException("serve is not built yet");
}
