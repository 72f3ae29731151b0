namespace Inkwell.Runtime.Threading;

/// <summary>Work split into [start, end) ranges of an index space. A struct, so dispatch does not allocate.</summary>
public interface IRangeBody
{
    void Invoke(int start, int end);
}

/// <summary>
/// A persistent pool of worker threads (the caller's thread is one of them). Run splits [0, count) into
/// ThreadCount contiguous ranges and blocks until all are done. PLACEHOLDER: simple implementation, to be
/// replaced by spinning persistent workers.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    public WorkerPool(int threadCount)
    {
        ThreadCount = Math.Max(1, threadCount);
    }

    public int ThreadCount { get; }

    public void Run<TBody>(int count, ref TBody body) where TBody : struct, IRangeBody
    {
        body.Invoke(0, count);
    }

    public void Dispose()
    {
    }
}
