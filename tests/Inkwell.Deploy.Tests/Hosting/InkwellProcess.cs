using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Inkwell.TestSupport;

namespace Inkwell.Deploy.Tests.Hosting;

/// <summary>`inkwell serve` (the built CLI beside the tests) as a child process on a free loopback port, as an
/// orchestrator runs it: started, probed until it answers, sent SIGTERM, and its exit awaited.</summary>
public sealed class InkwellProcess : IAsyncDisposable
{
    private const int Sigterm = 15;
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private InkwellProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(120) };
    }

    public Uri BaseAddress { get; }
    public HttpClient Client { get; }

    /// <summary>What the process wrote to stdout and stderr so far (for failure messages).</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Starts `inkwell serve ARGS --hostname 127.0.0.1 --port P` and waits until its liveness probe answers.</summary>
    public static async Task<InkwellProcess> StartServeAsync(params string[] args)
    {
        int port = LoopbackHost.ClosedPort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inkwell.dll"));
        foreach (var arg in (string[])["serve", .. args, "--hostname", "127.0.0.1", "--port", port.ToString()]) psi.ArgumentList.Add(arg);
        var process = Process.Start(psi)!;
        var server = new InkwellProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await server.WaitUntilLiveAsync(TimeSpan.FromSeconds(90));
        return server;
    }

    /// <summary>What Kubernetes sends to stop a container.</summary>
    public void SendSigterm()
    {
        if (kill(_process.Id, Sigterm) != 0) throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>The exit code, or null when the process is still running after <paramref name="limit"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private async Task WaitUntilLiveAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"inkwell serve exited with {_process.ExitCode} before answering:\n{Output}");
            try
            {
                using var live = await Client.GetAsync("live");
                if (live.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"inkwell serve did not answer /live within {limit.TotalSeconds} s:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
