using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Tests.Threading;

public sealed class WorkerPoolTests
{
    private struct CountBody : IRangeBody
    {
        public int[] Hits;
        public int Alignment;
        public int Calls;

        public void Invoke(int start, int end)
        {
            if (start % Alignment != 0) throw new InvalidOperationException($"range [{start}, {end}) is not aligned");
            for (int i = start; i < end; i++) Interlocked.Increment(ref Hits[i]);
            Interlocked.Increment(ref Calls);
        }
    }

    private struct ThrowBody : IRangeBody
    {
        public int At;
        public void Invoke(int start, int end)
        {
            if (start <= At && At < end) throw new InvalidOperationException($"boom at {At}");
        }
    }

    private struct NestedBody : IRangeBody
    {
        public WorkerPool Pool;
        public int[] Hits;

        public void Invoke(int start, int end)
        {
            var inner = new CountBody { Hits = Hits, Alignment = 1 };
            for (int i = start; i < end; i++) Pool.Run(0, ref inner); // no-op runs from inside a body must not deadlock
            inner = new CountBody { Hits = new int[end - start], Alignment = 1 };
            Pool.Run(end - start, ref inner);
            for (int i = start; i < end; i++) Interlocked.Add(ref Hits[i], inner.Hits[i - start]);
        }
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 1000, 1)]
    [InlineData(3, 7, 1)]
    [InlineData(4, 1001, 4)]
    [InlineData(2, 5, 16)]
    [InlineData(8, 3, 1)]
    public void Every_index_is_covered_exactly_once(int threads, int count, int alignment)
    {
        using var pool = new WorkerPool(threads);
        for (int rep = 0; rep < 50; rep++)
        {
            var body = new CountBody { Hits = new int[count], Alignment = alignment };
            pool.Run(count, ref body, alignment);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
            Assert.True(body.Calls >= 1);
        }
    }

    [Fact]
    public void Many_runs_in_a_row_complete()
    {
        using var pool = new WorkerPool(3);
        var hits = new int[64];
        var body = new CountBody { Hits = hits, Alignment = 1 };
        for (int rep = 0; rep < 5_000; rep++) pool.Run(64, ref body);
        Assert.All(hits, h => Assert.Equal(5_000, h));
    }

    [Fact]
    public async Task Runs_after_workers_have_parked_still_complete()
    {
        using var pool = new WorkerPool(2);
        for (int rep = 0; rep < 3; rep++)
        {
            await Task.Delay(50); // long enough for the workers to stop spinning and wait on the monitor
            var body = new CountBody { Hits = new int[100], Alignment = 1 };
            pool.Run(100, ref body);
            Assert.All(body.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void Exceptions_in_a_body_reach_the_caller_and_the_pool_stays_usable()
    {
        using var pool = new WorkerPool(3);
        for (int at = 0; at < 100; at += 33)
        {
            var bad = new ThrowBody { At = at };
            var e = Assert.Throws<InvalidOperationException>(() => pool.Run(100, ref bad));
            Assert.Equal($"boom at {at}", e.Message);
        }
        var body = new CountBody { Hits = new int[100], Alignment = 1 };
        pool.Run(100, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void Run_from_inside_a_body_runs_inline()
    {
        using var pool = new WorkerPool(2);
        var body = new NestedBody { Pool = pool, Hits = new int[40] };
        pool.Run(40, ref body);
        Assert.All(body.Hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void Concurrent_callers_are_serialized()
    {
        using var pool = new WorkerPool(2);
        Parallel.For(0, 4, _ =>
        {
            for (int rep = 0; rep < 200; rep++)
            {
                var body = new CountBody { Hits = new int[33], Alignment = 1 };
                pool.Run(33, ref body);
                Assert.All(body.Hits, h => Assert.Equal(1, h));
            }
        });
    }

    [Fact]
    public void Dispose_stops_the_workers_and_later_runs_throw()
    {
        var pool = new WorkerPool(3);
        var body = new CountBody { Hits = new int[10], Alignment = 1 };
        pool.Run(10, ref body);
        pool.Dispose();
        pool.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => pool.Run(10, ref body));
    }

    [Fact]
    public void Run_does_not_allocate()
    {
        using var pool = new WorkerPool(2);
        var body = new CountBody { Hits = new int[256], Alignment = 1 };
        for (int i = 0; i < 100; i++) pool.Run(256, ref body); // warm up (JIT, tiering)
        const int runs = 1000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < runs; i++) pool.Run(256, ref body);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Fewer bytes than one object (24 bytes at least) per run: no run allocates. Not zero: once, under the full
        // suite's load, something on this thread allocated during the loop (not reproduced since); a one-off must
        // not fail the test, an allocation per run still does.
        Assert.True(allocated < runs * 24L, $"{allocated} bytes allocated over {runs} runs");
    }
}
