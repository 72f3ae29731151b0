using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace Inkwell.Runtime.Threading;

/// <summary>Work split into [start, end) ranges of an index space. A struct, so dispatch does not allocate.</summary>
public interface IRangeBody
{
    void Invoke(int start, int end);
}

/// <summary>
/// A persistent pool of worker threads (the caller's thread is one of them). <see cref="Run{TBody}(int, ref TBody)"/>
/// splits [0, count) into contiguous chunks, lets every thread claim chunks until none are left, and blocks until all
/// are done. Workers are created once; a dispatch bumps a generation counter that spinning workers see within
/// microseconds, and workers that spun too long without work park on a monitor. Nothing is allocated per Run.
/// Concurrent callers are serialized; a Run from inside a body runs inline on that thread.
/// </summary>
public sealed unsafe class WorkerPool : IDisposable
{
    // ~0.5 µs per iteration on current x86 (PAUSE is slow); a couple hundred iterations keeps workers hot between
    // the back-to-back ops of a forward pass without burning a shared core for long when idle.
    private const int SpinIterations = 400;

    // Spinning pays while every pool thread has a core of its own. When the cores are oversubscribed (other processes,
    // other pools) it spends the time slices the threads being waited for need, and the scheduler, seeing busy
    // threads, favors them less: blocking at once was 2x faster there (1B q4_0 decode at load 20 on 2 cores). A spin
    // yields every eighth round; a yield that comes back late means another thread was runnable on that core. Two
    // late yields within ContentionWindow (one alone is a passing background task) make every wait of the pool block
    // at once for BlockingPeriod, after which spinning is tried again.
    private static readonly long LateYield = Stopwatch.Frequency / 10_000;        // 100 µs (an idle core returns in ~1)
    private static readonly long ContentionWindow = Stopwatch.Frequency / 100;    // 10 ms
    private static readonly long BlockingPeriod = Stopwatch.Frequency / 10;       // 100 ms
    private long _lastLateYield;  // Stopwatch timestamps
    private long _spinAgainAt;    // before it, waits do not spin


    [ThreadStatic] private static WorkerPool? t_inside;

    private readonly Thread[] _workers;
    private readonly object _gate = new();    // parking lot for idle workers and a caller waiting for them
    private readonly object _runLock = new(); // one Run (and one use of the scratch buffer) at a time

    // The current job. The caller writes it while the claim counter is closed, then opens the counter; a chunk is
    // claimed by a CAS that also checks the generation, so a worker that wakes late can never run a chunk of a job
    // that is over, and the caller waits only for chunks to finish, never for a descheduled worker to check in
    // (on shared cores a worker can be off-CPU for a whole scheduler slice).
    private delegate*<void*, int, int, void> _invoke;
    private void* _body;
    private int _count, _chunk, _chunks;
    private long _claim;     // generation << 32 | next chunk index
    private int _done;       // chunks finished in the current generation
    private int _generation;
    private int _sleepers;   // workers parked on _gate
    private int _callerWaiting;
    private volatile bool _failed;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    private byte* _scratch;
    private nuint _scratchBytes;

    public WorkerPool(int threadCount)
    {
        ThreadCount = Math.Max(1, threadCount);
        _workers = new Thread[ThreadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"inkwell-worker-{i + 1}" };
            _workers[i].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>Runs body over [0, count) split into contiguous ranges across all threads; blocks until done.</summary>
    public void Run<TBody>(int count, ref TBody body) where TBody : struct, IRangeBody => Run(count, ref body, 1);

    /// <summary>
    /// As <see cref="Run{TBody}(int, ref TBody)"/>, with every range starting at a multiple of
    /// <paramref name="alignment"/> (e.g. a kernel's row-tile height). The first exception thrown by a body is
    /// rethrown here after all ranges have stopped.
    /// </summary>
    public void Run<TBody>(int count, ref TBody body, int alignment) where TBody : struct, IRangeBody
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        alignment = Math.Max(1, alignment);
        int units = (count + alignment - 1) / alignment;
        if (_workers.Length == 0 || units == 1 || t_inside != null)
        {
            body.Invoke(0, count);
            return;
        }

        lock (_runLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Several chunks per thread so a thread that the OS preempts does not hold up the whole op; few enough
            // that claiming costs nothing next to the work.
            int chunks = Math.Min(units, ThreadCount * 4);
            int unitsPerChunk = (units + chunks - 1) / chunks;
            chunks = (units + unitsPerChunk - 1) / unitsPerChunk;

            int gen = _generation + 1;
            Volatile.Write(ref _claim, ((long)gen << 32) | int.MaxValue); // closed while the job is written

            // The body is copied to this stack frame so workers can reach it by address without the GC moving it.
            TBody local = body;
            _invoke = &InvokeBody<TBody>;
            _body = Unsafe.AsPointer(ref local);
            _count = count;
            _chunk = unitsPerChunk * alignment;
            _chunks = chunks;
            _done = 0;
            _failed = false;
            _error = null;
            Interlocked.Exchange(ref _claim, (long)gen << 32); // open: full fence publishes the job
            Volatile.Write(ref _generation, gen);
            if (Volatile.Read(ref _sleepers) > 0)
                lock (_gate) Monitor.PulseAll(_gate);

            t_inside = this;
            try { Work(gen); }
            finally { t_inside = null; }
            WaitForChunks();
            body = local;
            _body = null;
            var error = _error;
            _error = null;
            error?.Throw();
        }
    }

    private static void InvokeBody<TBody>(void* body, int start, int end) where TBody : struct, IRangeBody
        => Unsafe.AsRef<TBody>(body).Invoke(start, end);

    private void Work(int gen)
    {
        while (true)
        {
            long c = Volatile.Read(ref _claim);
            if ((int)(c >> 32) != gen || (int)c >= _chunks) return;
            if (Interlocked.CompareExchange(ref _claim, c + 1, c) != c) continue;
            // Claimed: the job fields are stable until this chunk is counted done.
            int start = (int)c * _chunk;
            int end = Math.Min(_count, start + _chunk);
            if (!_failed)
            {
                try { _invoke(_body, start, end); }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                    _failed = true; // the remaining chunks are counted, not run
                }
            }
            if (Interlocked.Increment(ref _done) == _chunks && Volatile.Read(ref _callerWaiting) != 0)
                lock (_gate) Monitor.PulseAll(_gate);
        }
    }

    private void WaitForChunks()
    {
        for (int i = 0; i < SpinIterations && SpinningPays(); i++)
        {
            if (Volatile.Read(ref _done) == _chunks) return;
            if (!Pause(i)) break;
        }
        lock (_gate)
        {
            Interlocked.Exchange(ref _callerWaiting, 1);
            while (Volatile.Read(ref _done) != _chunks) Monitor.Wait(_gate);
            _callerWaiting = 0;
        }
    }

    private bool SpinningPays() => Stopwatch.GetTimestamp() >= Volatile.Read(ref _spinAgainAt);

    /// <summary>
    /// Mostly PAUSE; every eighth round yields, so a thread that has work but no core gets one. False when that yield
    /// came back late for the second time within <see cref="ContentionWindow"/>: the cores are oversubscribed, so the
    /// caller stops spinning and blocks, as do the pool's waits for <see cref="BlockingPeriod"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Pause(int i)
    {
        if ((i & 7) != 7)
        {
            Thread.SpinWait(20);
            return true;
        }
        long start = Stopwatch.GetTimestamp();
        Thread.Yield();
        long end = Stopwatch.GetTimestamp();
        if (end - start < LateYield) return true;
        long previous = Interlocked.Exchange(ref _lastLateYield, end);
        if (end - previous > ContentionWindow) return true;
        Volatile.Write(ref _spinAgainAt, end + BlockingPeriod);
        return false;
    }

    private void WorkerLoop()
    {
        t_inside = this;
        int seen = 0;
        while (true)
        {
            int gen;
            int spins = 0;
            while ((gen = Volatile.Read(ref _generation)) == seen && !_disposed && spins < SpinIterations
                   && SpinningPays() && Pause(spins++))
            {
            }
            if (gen == seen && !_disposed)
            {
                lock (_gate)
                {
                    Interlocked.Increment(ref _sleepers); // full fence: the caller's bump is seen below, or it sees us
                    while ((gen = Volatile.Read(ref _generation)) == seen && !_disposed) Monitor.Wait(_gate);
                    _sleepers--;
                }
            }
            if (_disposed) return;
            seen = gen;
            Work(gen);
        }
    }

    /// <summary>
    /// A grow-only, 64-byte-aligned buffer owned by the pool, for kernels that need per-call workspace (quantized
    /// activations). Valid until the next call; callers hold <see cref="ScratchLock"/> while using it.
    /// </summary>
    internal byte* Scratch(nuint bytes)
    {
        if (bytes > _scratchBytes)
        {
            if (_scratch != null) NativeMemory.AlignedFree(_scratch);
            _scratchBytes = Math.Max(bytes, _scratchBytes * 2);
            _scratch = (byte*)NativeMemory.AlignedAlloc(_scratchBytes, 64);
        }
        return _scratch;
    }

    /// <summary>
    /// True on a thread that is running a body of this pool (a worker, or the caller inside Run). A Run from there
    /// runs inline, and kernels must not take <see cref="ScratchLock"/> (the thread that holds it is waiting for us).
    /// </summary>
    internal bool IsCurrentThreadInside => t_inside == this;

    /// <summary>Held (re-entrantly) by Run; kernels hold it across quantize-then-Run so the scratch is theirs.</summary>
    internal object ScratchLock => _runLock;

    public void Dispose()
    {
        if (_disposed) return;
        lock (_runLock)
        {
            _disposed = true;
            lock (_gate) Monitor.PulseAll(_gate);
            foreach (var t in _workers) t.Join();
            if (_scratch != null) NativeMemory.AlignedFree(_scratch);
            _scratch = null;
            _scratchBytes = 0;
        }
    }
}
