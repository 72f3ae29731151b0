using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Llama;

/// <summary>
/// The forward pass's element-wise steps over [rows, width] buffers, vectorized and split by rows across the worker
/// pool when the batch is large enough to pay for waking it.
/// </summary>
internal static unsafe class RowOps
{
    /// <summary>Below this many elements an op runs on the calling thread: a pool dispatch costs more.</summary>
    public const int ParallelMinElements = 16384;

    public static void Run<TBody>(WorkerPool pool, int rows, int width, ref TBody body) where TBody : struct, IRangeBody
    {
        if ((long)rows * width < ParallelMinElements) body.Invoke(0, rows);
        else pool.Run(rows, ref body);
    }

    /// <summary>x += delta (when given), then y = rmsnorm(x) · weight (when a weight is given), row by row.</summary>
    public static void ResidualNorm(WorkerPool pool, Span<float> x, Span<float> delta, float[]? weight, Span<float> y, int rows, int dim, float eps)
    {
        fixed (float* xp = x, dp = delta, yp = y)
        {
            var body = new ResidualNormBody { X = xp, Delta = delta.IsEmpty ? null : dp, Weight = weight, Y = yp, Dim = dim, Eps = eps };
            Run(pool, rows, dim, ref body);
        }
    }

    /// <summary>gate = silu(gate) · up, element-wise over [rows, width].</summary>
    public static void SwiGlu(WorkerPool pool, Span<float> gate, ReadOnlySpan<float> up, int rows, int width)
    {
        fixed (float* g = gate, u = up)
        {
            var body = new SwiGluBody { Gate = g, Up = u, Width = width };
            Run(pool, rows, width, ref body);
        }
    }

    /// <summary>gate[i] = gate[i] / (1 + exp(-gate[i])) · up[i].</summary>
    public static void SwiGluRow(float* gate, float* up, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var g = Vector512.Load(gate + i);
                (g / (Vector512<float>.One + VectorExp.Exp(-g)) * Vector512.Load(up + i)).Store(gate + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var g = Vector256.Load(gate + i);
                (g / (Vector256<float>.One + VectorExp.Exp(-g)) * Vector256.Load(up + i)).Store(gate + i);
            }
        }
        for (; i < n; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    private struct ResidualNormBody : IRangeBody
    {
        public float* X, Delta, Y;
        public float[]? Weight;
        public int Dim;
        public float Eps;

        public void Invoke(int start, int end)
        {
            for (int t = start; t < end; t++)
            {
                var x = new Span<float>(X + (long)t * Dim, Dim);
                if (Delta != null) TensorPrimitives.Add(x, new ReadOnlySpan<float>(Delta + (long)t * Dim, Dim), x);
                if (Weight != null) LlamaModel.RmsNorm(x, Weight, new Span<float>(Y + (long)t * Dim, Dim), Eps);
            }
        }
    }

    private struct SwiGluBody : IRangeBody
    {
        public float* Gate, Up;
        public int Width;

        public void Invoke(int start, int end)
        {
            for (int t = start; t < end; t++) SwiGluRow(Gate + (long)t * Width, Up + (long)t * Width, Width);
        }
    }
}
