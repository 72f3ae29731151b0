using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Inkwell.Runtime.Attention;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Decoder;

/// <summary>
/// The forward pass's element-wise steps over [rows, width] buffers, vectorized and split by rows across the worker
/// pool when the batch is large enough to pay for waking it.
/// </summary>
internal static unsafe class RowOps
{
    /// <summary>Below this many elements an op runs on the calling thread: a pool dispatch costs more.</summary>
    public const int ParallelMinElements = 16384;

    /// <summary>sqrt(2/π), GELU's tanh approximation.</summary>
    private const float GeluScale = 0.7978845608028654f;
    private const float GeluCubic = 0.044715f;

    public static void Run<TBody>(WorkerPool pool, int rows, int width, ref TBody body) where TBody : struct, IRangeBody
    {
        if ((long)rows * width < ParallelMinElements) body.Invoke(0, rows);
        else pool.Run(rows, ref body);
    }

    /// <summary>y = x / sqrt(mean(x²) + eps) * weight.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        float ss = TensorPrimitives.Dot(x, x) / x.Length + eps;
        float scale = 1f / MathF.Sqrt(ss);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, weight, y);
    }

    /// <summary>
    /// Row by row: when a delta is given, delta = rmsnorm(delta) · postNorm (when given) and x += delta · deltaScale;
    /// then y = rmsnorm(x) · weight when a weight is given.
    /// </summary>
    public static void ResidualNorm(WorkerPool pool, Span<float> x, Span<float> delta, float[]? weight, Span<float> y, int rows, int dim, float eps,
        float[]? postNorm = null, float deltaScale = 1f)
    {
        fixed (float* xp = x, dp = delta, yp = y)
        {
            var body = new ResidualNormBody
            {
                X = xp, Delta = delta.IsEmpty ? null : dp, Weight = weight, Y = yp, Dim = dim, Eps = eps,
                PostNorm = postNorm, DeltaScale = deltaScale,
            };
            Run(pool, rows, dim, ref body);
        }
    }

    /// <summary>gate = act(gate) · up, element-wise over [rows, width].</summary>
    public static void Gate(WorkerPool pool, Span<float> gate, ReadOnlySpan<float> up, int rows, int width, GateActivation activation)
    {
        fixed (float* g = gate, u = up)
        {
            var body = new GateBody { Gate = g, Up = u, Width = width, Activation = activation };
            Run(pool, rows, width, ref body);
        }
    }

    /// <summary>Each row of y [rows, width]: y = (y + bias) · scale when biasFirst, else y · scale + bias.</summary>
    public static void BiasAndScale(WorkerPool pool, Span<float> y, int rows, float[]? bias, float scale, bool biasFirst)
    {
        int width = y.Length / rows;
        fixed (float* yp = y)
        {
            var body = new BiasScaleBody { Y = yp, Width = width, Bias = bias, Scale = scale, BiasFirst = biasFirst };
            Run(pool, rows, width, ref body);
        }
    }

    /// <summary>gate[i] = silu(gate[i]) · up[i] = gate[i] / (1 + exp(-gate[i])) · up[i].</summary>
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

    /// <summary>
    /// gate[i] = gelu(gate[i]) · up[i] with GELU's tanh form 0.5·g·(1 + tanh(u)), u = sqrt(2/π)·(g + 0.044715·g³),
    /// computed as g / (1 + exp(-2u)) (the same value, one exp, and it saturates to g or 0 without NaN).
    /// </summary>
    public static void GeGluRow(float* gate, float* up, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var k = Vector256.Create(-2f * GeluScale);
            var c = Vector256.Create(GeluCubic);
            for (; i + 8 <= n; i += 8)
            {
                var g = Vector256.Load(gate + i);
                var u = g + c * g * g * g;
                (g / (Vector256<float>.One + VectorExp.Exp(k * u)) * Vector256.Load(up + i)).Store(gate + i);
            }
        }
        for (; i < n; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-2f * GeluScale * (g + GeluCubic * g * g * g))) * up[i];
        }
    }

    private struct ResidualNormBody : IRangeBody
    {
        public float* X, Delta, Y;
        public float[]? Weight, PostNorm;
        public int Dim;
        public float Eps, DeltaScale;

        public void Invoke(int start, int end)
        {
            for (int t = start; t < end; t++)
            {
                var x = new Span<float>(X + (long)t * Dim, Dim);
                if (Delta != null)
                {
                    var d = new Span<float>(Delta + (long)t * Dim, Dim);
                    if (PostNorm != null) RmsNorm(d, PostNorm, d, Eps);
                    if (DeltaScale != 1f) TensorPrimitives.MultiplyAdd(d, DeltaScale, x, x);
                    else TensorPrimitives.Add(x, d, x);
                }
                if (Weight != null) RmsNorm(x, Weight, new Span<float>(Y + (long)t * Dim, Dim), Eps);
            }
        }
    }

    private struct GateBody : IRangeBody
    {
        public float* Gate, Up;
        public int Width;
        public GateActivation Activation;

        public void Invoke(int start, int end)
        {
            for (int t = start; t < end; t++)
            {
                if (Activation == GateActivation.Silu) SwiGluRow(Gate + (long)t * Width, Up + (long)t * Width, Width);
                else GeGluRow(Gate + (long)t * Width, Up + (long)t * Width, Width);
            }
        }
    }

    private struct BiasScaleBody : IRangeBody
    {
        public float* Y;
        public int Width;
        public float[]? Bias;
        public float Scale;
        public bool BiasFirst;

        public void Invoke(int start, int end)
        {
            for (int t = start; t < end; t++)
            {
                var y = new Span<float>(Y + (long)t * Width, Width);
                if (BiasFirst && Bias is not null) TensorPrimitives.Add(y, Bias, y);
                if (Scale != 1f) TensorPrimitives.Multiply(y, Scale, y);
                if (!BiasFirst && Bias is not null) TensorPrimitives.Add(y, Bias, y);
            }
        }
    }
}
