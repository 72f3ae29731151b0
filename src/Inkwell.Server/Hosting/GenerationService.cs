using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Inkwell.Engine;
using Inkwell.Engine.Requests;
using Inkwell.Server.Metrics;
using Inkwell.Server.Tgi;

namespace Inkwell.Server.Hosting;

/// <summary>Too many requests in flight: TGI answers 429 "Model is overloaded".</summary>
public sealed class OverloadedException() : Exception("Model is overloaded");

/// <summary>The engine failed a request: TGI answers 424 with error_type "generation".</summary>
public sealed class GenerationException(string message) : Exception(message);

/// <summary>
/// Between the HTTP front ends and the engine: permits (a request holds best_of of them; none left = overloaded),
/// best_of fan-out, and metrics. A cancelled token (client hang-up) removes the request from the engine.
/// </summary>
public sealed class GenerationService(InferenceEngine engine, ServerMetrics metrics, int maxConcurrentRequests)
{
    private int _inFlight;

    public InferenceEngine Engine => engine;
    public ServerMetrics Metrics => metrics;
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Runs a request to the end. With best_of > 1, samples that many and returns the most likely first.</summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateAsync(ValidGenerateRequest v, CancellationToken ct)
    {
        using var permit = Acquire(v.BestOf);
        var runs = new List<Task<GenerationResult>>();
        for (int i = 0; i < v.BestOf; i++)
        {
            // Each extra sequence gets its own seed and its own constraint state (a grammar walk is per sequence).
            var request = i == 0 ? v.Engine : v.Engine with
            {
                Sampling = v.Engine.Sampling with { Seed = (ulong)Random.Shared.NextInt64() },
                Constraint = v.Engine.Constraint?.CreateFresh(),
            };
            runs.Add(RunToEnd(engine.Submit(request, ct), ct));
        }
        var results = await Task.WhenAll(runs);
        return results.OrderByDescending(r => r.Tokens.Sum(t => (double)t.LogProb)).ToList();
    }

    /// <summary>Streams one request's events; the last is Finished or Failed.</summary>
    public async IAsyncEnumerable<GenerationEvent> StreamAsync(ValidGenerateRequest v, [EnumeratorCancellation] CancellationToken ct)
    {
        using var permit = Acquire(1);
        var reader = engine.Submit(v.Engine, ct);
        await foreach (var e in ReadAll(reader, ct)) yield return e;
    }

    private static async IAsyncEnumerable<GenerationEvent> ReadAll(ChannelReader<GenerationEvent> reader, [EnumeratorCancellation] CancellationToken ct)
    {
        while (await reader.WaitToReadAsync(ct))
            while (reader.TryRead(out var e)) yield return e;
    }

    private static async Task<GenerationResult> RunToEnd(ChannelReader<GenerationEvent> reader, CancellationToken ct)
    {
        await foreach (var e in ReadAll(reader, ct))
        {
            switch (e)
            {
                case GenerationFinished f: return f.Result;
                case GenerationFailed f: throw new GenerationException(f.Message);
            }
        }
        ct.ThrowIfCancellationRequested();
        throw new GenerationException("Incomplete generation");
    }

    /// <summary>Holds <paramref name="count"/> permits until disposed (for front ends that submit to the engine themselves, e.g. gRPC); throws <see cref="OverloadedException"/>.</summary>
    public IDisposable AcquirePermits(int count) => Acquire(count);

    private Permit Acquire(int count)
    {
        if (Interlocked.Add(ref _inFlight, count) > maxConcurrentRequests)
        {
            Interlocked.Add(ref _inFlight, -count);
            throw new OverloadedException();
        }
        return new Permit(this, count);
    }

    private sealed class Permit(GenerationService owner, int count) : IDisposable
    {
        private int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Interlocked.Add(ref owner._inFlight, -count);
        }
    }
}
