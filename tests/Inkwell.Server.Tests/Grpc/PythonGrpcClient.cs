using System.Diagnostics;
using System.Text.Json;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>
/// Runs PythonClient/fmaas_client.py: grpcio with messages protoc generates from our generation.proto, so the
/// server is checked against a gRPC implementation no one here wrote.
/// </summary>
internal static class PythonGrpcClient
{
    // Debian's python3-grpcio lives under /usr/bin/python3, which a pyenv or venv python3 on PATH would hide.
    private static readonly string[] PythonCandidates = ["/usr/bin/python3", "python3"];

    private static readonly Lazy<(string? Python, string? Reason)> Probe = new(FindPython);
    private static readonly Lazy<string> GeneratedMessages = new(GenerateMessages);

    /// <summary>Why these tests cannot run here; null when they can.</summary>
    public static string? UnavailableReason => Probe.Value.Reason;

    public static string ScriptPath => RepoPaths.InRoot("tests", "Inkwell.Server.Tests", "Grpc", "PythonClient", "fmaas_client.py");

    /// <summary>Runs one call; <paramref name="requestJson"/> is the request in protobuf JSON (snake_case names work).</summary>
    public static async Task<JsonElement> CallAsync(string mode, string target, string method, string requestJson = "{}",
        double? timeoutSeconds = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        List<string> arguments = [ScriptPath, mode, target, method];
        if (timeoutSeconds is { } t) arguments.Add(t.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var env = new Dictionary<string, string> { ["PYTHONPATH"] = GeneratedMessages.Value };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) env[key] = value;

        var result = await RunAsync(Probe.Value.Python!, arguments, requestJson, env);
        Assert.True(result.ExitCode == 0, $"fmaas_client.py failed ({result.ExitCode}): {result.StandardError}");
        return JsonDocument.Parse(result.StandardOutput).RootElement.Clone();
    }

    private static (string?, string?) FindPython()
    {
        const string install = "apt-get install -y python3-grpcio python3-protobuf protobuf-compiler";
        if (!CanRun("protoc", ["--version"])) return (null, $"needs protoc to generate Python messages ({install})");
        foreach (var python in PythonCandidates)
        {
            if (CanRun(python, ["-c", "import grpc, google.protobuf"])) return (python, null);
        }
        return (null, $"needs a python3 with grpcio and protobuf ({install})");
    }

    private static string GenerateMessages()
    {
        var output = Directory.CreateTempSubdirectory("inkwell-fmaas-py-").FullName;
        var protos = RepoPaths.InRoot("src", "Inkwell.Server", "Protos");
        var result = RunAsync("protoc", ["-I", protos, "--python_out=" + output, Path.Combine(protos, "generation.proto")], null).GetAwaiter().GetResult();
        if (result.ExitCode != 0) throw new InvalidOperationException("protoc failed: " + result.StandardError);
        return output;
    }

    private static bool CanRun(string program, IReadOnlyList<string> arguments)
    {
        try
        {
            return RunAsync(program, arguments, null).GetAwaiter().GetResult().ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }

    private static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunAsync(string program, IReadOnlyList<string> arguments,
        string? standardInput, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(standardInput ?? "");
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"{program} did not finish within 60 s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A fact that needs python3-grpcio and protoc: skipped, saying what to install, when they are absent.</summary>
public sealed class PythonGrpcFactAttribute : FactAttribute
{
    public PythonGrpcFactAttribute()
    {
        if (PythonGrpcClient.UnavailableReason is { } reason) Skip = reason;
    }
}
