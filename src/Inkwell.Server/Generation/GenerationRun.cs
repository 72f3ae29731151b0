using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Inkwell.Engine;
using Inkwell.Engine.Requests;
using Inkwell.Server.Telemetry;

namespace Inkwell.Server.Generation;

/// <summary>One event of one sequence; Choice is the sequence's place across all inputs (input-major: input i, sequence s).</summary>
public readonly record struct ChoiceEvent(int Choice, GenerationEvent Event);

/// <summary>
/// The sequences a <see cref="GenerationService"/> started for one call, and the permits they hold until this is
/// disposed (which also takes any unfinished sequence out of the engine). Read it once: as one merged event stream,
/// or as the final results.
/// </summary>
public sealed class GenerationRun : IAsyncDisposable
{
    private readonly IReadOnlyList<GenerationStream> _streams;
    private readonly IReadOnlyList<(int Input, int Sequence)> _origins;
    private readonly IDisposable _permit;
    private readonly CancellationTokenSource _cancel;
    private readonly CancellationToken _shutdown;
    private readonly RequestTelemetry? _telemetry;
    private readonly DateTimeOffset _queuedAt;
    private int _finished;
    private int _failed;

    internal GenerationRun(IReadOnlyList<PreparedInput> inputs, IReadOnlyList<GenerationStream> streams,
        IReadOnlyList<(int Input, int Sequence)> origins, IDisposable permit, CancellationTokenSource cancel, CancellationToken shutdown,
        RequestTelemetry? telemetry = null, DateTimeOffset queuedAt = default)
    {
        Inputs = inputs;
        _streams = streams;
        _origins = origins;
        _permit = permit;
        _cancel = cancel;
        _shutdown = shutdown;
        _telemetry = telemetry;
        _queuedAt = queuedAt;
    }

    /// <summary>True once the server's grace period ended this run (its failure event says so; gRPC answers UNAVAILABLE).</summary>
    public bool StoppedByShutdown => _shutdown.IsCancellationRequested;

    /// <summary>Each input as submitted (tokens, limits, seed), in call order.</summary>
    public IReadOnlyList<PreparedInput> Inputs { get; }
    public int ChoiceCount => _streams.Count;
    public (int Input, int Sequence) Origin(int choice) => _origins[choice];

    /// <summary>
    /// Every sequence's events. A single sequence is read straight from its stream; several are merged in arrival
    /// order. A failed sequence shows as its <see cref="GenerationFailed"/> event, and so does the end of the
    /// server's grace period (then the last event), so every API ends the response with its own error.
    /// </summary>
    public async IAsyncEnumerable<ChoiceEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        await using var events = ReadStreamsAsync(ct).GetAsyncEnumerator(ct);
        bool stopped = false;
        while (true)
        {
            bool more;
            try
            {
                more = await events.MoveNextAsync();
            }
            catch (OperationCanceledException) when (StoppedByShutdown && !ct.IsCancellationRequested)
            {
                more = false;
                stopped = true;
            }
            if (!more) break;
            yield return events.Current;
        }
        if (stopped) yield return new ChoiceEvent(0, new GenerationFailed(GenerationService.ShuttingDownMessage));
    }

    private async IAsyncEnumerable<ChoiceEvent> ReadStreamsAsync([EnumeratorCancellation] CancellationToken ct)
    {
        if (_streams.Count == 1)
        {
            await foreach (var e in _streams[0].ReadAllAsync(ct))
            {
                Observe(0, e);
                yield return new ChoiceEvent(0, e);
            }
            yield break;
        }
        var merged = Channel.CreateUnbounded<ChoiceEvent>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = Task.WhenAll(_streams.Select((s, i) => PumpAsync(s, i, merged.Writer, ct)));
        _ = pumps.ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        await foreach (var e in merged.Reader.ReadAllAsync(ct)) yield return e;
    }

    private async Task PumpAsync(GenerationStream stream, int choice, ChannelWriter<ChoiceEvent> writer, CancellationToken ct)
    {
        await foreach (var e in stream.ReadAllAsync(ct))
        {
            Observe(choice, e);
            await writer.WriteAsync(new ChoiceEvent(choice, e), ct);
        }
    }

    /// <summary>The one place every API's sequence endings reach the call's metrics and spans.</summary>
    private void Observe(int choice, GenerationEvent e)
    {
        switch (e)
        {
            case TokenGenerated { Final: { } result }:
                Interlocked.Increment(ref _finished);
                _telemetry?.SequenceFinished(choice, Inputs[_origins[choice].Input], result, _queuedAt);
                break;
            case GenerationFailed failed when Interlocked.Exchange(ref _failed, 1) == 0:
                _telemetry?.Failed(StoppedByShutdown ? "unavailable" : "generate", failed.Message);
                break;
        }
    }

    /// <summary>Every sequence's result in choice order; the first failure cancels the rest and throws GenerationFailed.</summary>
    public async Task<GenerationResult[]> ResultsAsync(CancellationToken ct = default)
    {
        var runs = _streams.Select((s, choice) => RunToEndAsync(s, choice, ct)).ToArray();
        try
        {
            return await Task.WhenAll(runs);
        }
        catch (OperationCanceledException) when (runs.FirstOrDefault(r => r.Exception?.InnerException is GenerationException) is { } failed)
        {
            // A sibling's cancellation surfaced first; the failure that caused it is the answer.
            throw failed.Exception!.InnerException!;
        }
    }

    private async Task<GenerationResult> RunToEndAsync(GenerationStream stream, int choice, CancellationToken ct)
    {
        try
        {
            await foreach (var e in stream.ReadAllAsync(ct))
            {
                Observe(choice, e);
                switch (e)
                {
                    case GenerationFinished f: return f.Result;
                    case GenerationFailed f: throw new GenerationException(GenerationErrorKind.GenerationFailed, f.Message);
                }
            }
            ct.ThrowIfCancellationRequested();
            throw new GenerationException(GenerationErrorKind.GenerationFailed, "Incomplete generation");
        }
        catch (OperationCanceledException) when (StoppedByShutdown && !ct.IsCancellationRequested)
        {
            await _cancel.CancelAsync();
            throw new GenerationException(GenerationErrorKind.Unavailable, GenerationService.ShuttingDownMessage);
        }
        catch
        {
            // One failed sequence fails the call (as TGIS's try_join_all): stop the others' work now.
            await _cancel.CancelAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Sequences that neither finished nor failed were cut: by the client (cancelled) or by the end of the drain.
        if (Volatile.Read(ref _finished) < _streams.Count && Volatile.Read(ref _failed) == 0)
            _telemetry?.Failed(StoppedByShutdown ? "unavailable" : "cancelled");
        await _cancel.CancelAsync();
        _cancel.Dispose();
        _permit.Dispose();
    }
}
