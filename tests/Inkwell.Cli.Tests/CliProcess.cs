using System.Diagnostics;

namespace Inkwell.Cli.Tests;

/// <summary>Runs the built `inkwell` program as a child process, as a user would, and captures its output.</summary>
public static class CliProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string stdin, params string[] args) =>
        RunWithEnvironment(stdin, new Dictionary<string, string?>(), args);

    /// <summary>Runs with <paramref name="environment"/> added to (a null value: removed from) the inherited one.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunWithEnvironment(string stdin, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inkwell.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            if (value is null) psi.Environment.Remove(name);
            else psi.Environment[name] = value;
        }
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("inkwell did not finish in 2 minutes: " + string.Join(' ', args));
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
