using System.Threading.Channels;
using Inkwell.Engine.Requests;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tgi;

namespace Inkwell.Server.OpenAI;

/// <summary>
/// Runs a response's choices (n per prompt) as separate engine requests and merges their events in arrival order.
/// Every request is submitted and has produced its first event (so each holds its permit) before Start returns:
/// overload is still a plain 429 before any byte of a stream is written.
/// </summary>
internal sealed class ChoiceRunner : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly List<IAsyncEnumerator<GenerationEvent>> _runs;
    private readonly Channel<(int Choice, GenerationEvent Event)> _merged = Channel.CreateUnbounded<(int, GenerationEvent)>();
    private Task? _pumps;

    private ChoiceRunner(CancellationTokenSource cts, List<IAsyncEnumerator<GenerationEvent>> runs)
    {
        _cts = cts;
        _runs = runs;
    }

    public static async Task<ChoiceRunner> StartAsync(GenerationService service, IReadOnlyList<GenerationRequest> requests, CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runs = requests
            .Select(r => service.StreamAsync(new ValidGenerateRequest("", r, r.PromptTokens.Count, 1, false, false, false, r.Stopping.MaxNewTokens), cts.Token)
                .GetAsyncEnumerator(cts.Token))
            .ToList();
        var runner = new ChoiceRunner(cts, runs);
        // Calling MoveNextAsync on each before awaiting any submits them all at once (an async iterator runs to its first await).
        var firsts = runs.Select(e => e.MoveNextAsync().AsTask()).ToList();
        try
        {
            await Task.WhenAll(firsts);
        }
        catch
        {
            await runner.DisposeAsync();
            // Surface the most telling failure (an overload rather than the cancellations it caused).
            throw firsts.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is OverloadedException)
                ?? firsts.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null)
                ?? new OperationCanceledException(ct);
        }
        runner._pumps = Task.WhenAll(runs.Select((e, i) => runner.Pump(i, e, firsts[i].Result)))
            .ContinueWith(t => runner._merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        return runner;
    }

    public IAsyncEnumerable<(int Choice, GenerationEvent Event)> Events(CancellationToken ct) => _merged.Reader.ReadAllAsync(ct);

    private async Task Pump(int index, IAsyncEnumerator<GenerationEvent> run, bool hasFirst)
    {
        if (!hasFirst) return;
        do
        {
            await _merged.Writer.WriteAsync((index, run.Current));
        } while (await run.MoveNextAsync());
    }

    public async ValueTask DisposeAsync()
    {
        // Stops the engine work of any choice still running (a client hang-up or an error in another choice).
        await _cts.CancelAsync();
        if (_pumps is not null)
        {
            try { await _pumps; } catch (OperationCanceledException) { }
        }
        foreach (var run in _runs)
        {
            try { await run.DisposeAsync(); } catch (OperationCanceledException) { } catch (NotSupportedException) { }
        }
        _cts.Dispose();
    }
}
