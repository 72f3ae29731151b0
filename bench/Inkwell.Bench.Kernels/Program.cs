using System.Diagnostics;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

// Micro-benchmark for MatMul.Multiply: dotnet run -c Release --project bench/Inkwell.Bench.Kernels [-- types shapes threads]
// Weights are random bytes with sane block scales: speed does not depend on the values.
var types = args.Length > 0 ? args[0].Split(',').Select(Enum.Parse<GgmlType>).ToArray()
    : [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0,
       GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
var shapes = args.Length > 1 ? args[1].Split(',').Select(s => s.Split('x').Select(int.Parse).ToArray()).ToArray()
    : [[768, 768], [2048, 768]];
var threads = args.Length > 2 ? args[2].Split(',').Select(int.Parse).ToArray() : [1, 2];
var batches = args.Length > 3 ? args[3].Split(',').Select(int.Parse).ToArray() : [1, 128];

Console.WriteLine($"accelerated={MatMul.IsAccelerated} avxvnni={System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}");
DispatchCost(threads.Max());
Console.WriteLine("type   rows x cols   n   threads   wall-us  GFLOP/s(wall)  cpu-us/thread  GFLOP/s(cpu)");
foreach (var t in types)
foreach (var shape in shapes)
{
    var w = Make(t, shape[0], shape[1]);
    foreach (int th in threads)
    {
        using var pool = new WorkerPool(th);
        foreach (int n in batches)
        {
            var x = new float[n * w.Cols];
            var rng = new Random(1);
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var y = new float[n * w.Rows];
            double flop = 2.0 * n * w.Rows * w.Cols;
            int reps = Math.Max(3, (int)(2e8 / flop));
            // Warm up by time, not by count: a few long calls would otherwise be timed before tiered compilation
            // has replaced the first-call code of each kernel.
            var warm = Stopwatch.StartNew();
            for (int i = 0; i < 2 || warm.ElapsedMilliseconds < 300; i++) MatMul.Multiply(w, x, y, n, pool);
            // best of 5 batches: the cores are shared, the minimum is the least disturbed
            // Also process CPU time per call: on shared cores, wall time includes time spent descheduled, while
            // CPU time / threads is what the kernel would take with the cores to itself.
            double best = double.MaxValue, bestCpu = double.MaxValue;
            var proc = Process.GetCurrentProcess();
            for (int k = 0; k < 5; k++)
            {
                proc.Refresh();
                var cpu0 = proc.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < reps; i++) MatMul.Multiply(w, x, y, n, pool);
                best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
                proc.Refresh();
                bestCpu = Math.Min(bestCpu, (proc.TotalProcessorTime - cpu0).TotalSeconds / reps / th);
            }
            Console.WriteLine($"{t,-6} {w.Rows,5} x {w.Cols,-5} {n,4} {th,5} {best * 1e6,11:F1} {flop / best / 1e9,9:F1} {bestCpu * 1e6,11:F1} {flop / bestCpu / 1e9,9:F1}");
        }
    }
}

static unsafe WeightMatrix Make(GgmlType t, int rows, int cols)
{
    long bytes = GgmlTypeInfo.ByteCount(t, (long)rows * cols);
    var data = GC.AllocateArray<byte>((int)bytes, pinned: true);
    new Random(7).NextBytes(data);
    int bb = GgmlTypeInfo.BlockBytes(t), bs = GgmlTypeInfo.BlockSize(t);
    ushort h = BitConverter.HalfToUInt16Bits((Half)0.01f);
    for (long b = 0; b < bytes / bb; b++)
    {
        long p = b * bb;
        void Put(int off) => BitConverter.TryWriteBytes(data.AsSpan((int)(p + off)), h);
        switch (t)
        {
            case GgmlType.F16: Put(0); break;
            case GgmlType.BF16: data[p + 1] = 0x3c; break;
            case GgmlType.F32: BitConverter.TryWriteBytes(data.AsSpan((int)p), 0.01f); break;
            case GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0: Put(0); break;
            case GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K: Put(0); Put(2); break;
            case GgmlType.Q2_K: Put(80); Put(82); break;
            case GgmlType.Q3_K: Put(108); break;
            case GgmlType.Q6_K: Put(208); break;
        }
        _ = bs;
    }
    fixed (byte* ptr = data) return new WeightMatrix("w", t, rows, cols, ptr, data);
}

static void DispatchCost(int threads)
{
    using var pool = new WorkerPool(threads);
    var body = new Nop();
    for (int i = 0; i < 10000; i++) pool.Run(64, ref body);
    double best = double.MaxValue;
    for (int k = 0; k < 5; k++)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 20000; i++) pool.Run(64, ref body);
        best = Math.Min(best, sw.Elapsed.TotalSeconds / 20000);
    }
    Console.WriteLine($"empty Run on {threads} threads: {best * 1e6:F2} us");
}

struct Nop : IRangeBody { public void Invoke(int start, int end) { } }
