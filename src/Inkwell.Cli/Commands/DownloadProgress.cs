using System.Collections.Concurrent;
using System.Diagnostics;
using Inkwell.Models.Hub;
using Spectre.Console;

namespace Inkwell.Cli.Commands;

/// <summary>
/// Shows a download on stderr: a Spectre.Console progress bar per file on a terminal, one line per file otherwise
/// (logs, containers). The bars start with the first transfer, so a model found in the cache prints nothing.
/// </summary>
internal sealed class DownloadProgress : IDownloadProgress, IDisposable
{
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly ConcurrentDictionary<string, (Stopwatch Clock, long Bytes, long Resumed)> _started = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ProgressTask> _bars = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource<ProgressContext> _context = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _startLock = new();
    private Task? _render;

    public void Started(string file, long totalBytes, long alreadyHave)
    {
        _started[file] = (Stopwatch.StartNew(), totalBytes, alreadyHave);
        if (!_terminal) return;
        var bar = _bars.GetOrAdd(file, name => Context().AddTask(name, maxValue: Math.Max(1, totalBytes)));
        bar.Value = alreadyHave;
    }

    public void Advanced(string file, long bytes)
    {
        if (_bars.TryGetValue(file, out var bar)) bar.Increment(bytes);
    }

    public void Finished(string file, bool fromCache)
    {
        if (_bars.TryGetValue(file, out var bar)) { bar.Value = bar.MaxValue; bar.StopTask(); return; }
        if (_terminal) return;
        Console.Error.WriteLine(fromCache ? $"inkwell: {file} is in the cache"
            : _started.TryGetValue(file, out var s)
                ? $"inkwell: {file} downloaded ({Size(s.Bytes)} in {s.Clock.Elapsed.TotalSeconds:F1}s{(s.Resumed > 0 ? $", resumed at {Size(s.Resumed)}" : "")})"
                : $"inkwell: {file} downloaded");
    }

    /// <summary>Starts the live display on the first bar; Spectre renders it from its own task until Dispose.</summary>
    private ProgressContext Context()
    {
        lock (_startLock)
        {
            _render ??= Task.Run(() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) })
                .Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                    new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async context => { _context.SetResult(context); await _finish.Task; }));
        }
        // A display that fails to start surfaces its error instead of leaving the download waiting for it.
        if (Task.WhenAny(_context.Task, _render).GetAwaiter().GetResult() != _context.Task) _render.GetAwaiter().GetResult();
        return _context.Task.GetAwaiter().GetResult();
    }

    private static string Size(long bytes) => bytes >= 1 << 30 ? $"{bytes / (double)(1 << 30):F2} GiB" : $"{bytes / (double)(1 << 20):F1} MiB";

    public void Dispose()
    {
        _finish.TrySetResult();
        _render?.GetAwaiter().GetResult();
    }
}
