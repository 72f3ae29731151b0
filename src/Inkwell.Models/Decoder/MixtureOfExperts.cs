using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Decoder;

/// <summary>
/// A routed feed-forward block (llama.cpp's build_moe_ffn): a router picks <see cref="ExpertsConfig.UsedCount"/>
/// experts per row and weighs them; rows are then grouped by expert so each expert runs as one GEMM per projection
/// over just its rows (gather, <see cref="GatedFeedForward.Forward"/>, weighted scatter-add), never one GEMV per
/// token and expert. An optional shared expert runs on every row, optionally scaled per row by a sigmoid gate
/// (Qwen2-MoE). All working memory is the caller's scratch, so the block holds no per-batch state and needs no
/// allocation.
/// <para>
/// Decode and small batches (at most <see cref="ExpertParallelRows"/> rows) run the experts side by side instead: one
/// pool dispatch per layer hands whole experts to threads, each multiplying its expert's few rows alone, as
/// llama.cpp's mul_mat_id covers every selected expert in one op. Each expert there is three small matrices (a
/// Qwen3-MoE expert: 768 x 2048), so splitting each across the pool paid a dispatch and its wait for the slowest
/// thread per projection and expert, 24 per layer at top 8 (docs/benchmarks.md, sixth pass). The outputs are summed
/// afterwards in the same order as the serial path, so both give the same floats (but for bf16 experts given 8 or
/// more rows on AVX-512: on one thread those take the f32 panels, not the pool-wide int16 ones).
/// </para>
/// </summary>
public sealed class MixtureOfExperts : IFeedForward
{
    private readonly int _dim;

    /// <summary>Batches of at most this many rows run their experts side by side (see the class remarks).</summary>
    public const int DefaultExpertParallelRows = 16;

    public MixtureOfExperts(Linear router, GatedFeedForward[] experts, GatedFeedForward? shared, ExpertsConfig config, Linear? sharedGate = null,
        int expertParallelRows = DefaultExpertParallelRows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expertParallelRows);
        if ((shared is not null) != (config.SharedHiddenDim > 0) || (sharedGate is not null) != config.SharedExpertGate)
            throw new ArgumentException("the shared expert and its gate must be given exactly when the config has them");
        if (sharedGate is not null && (sharedGate.OutputDim != 1 || sharedGate.InputDim != router.InputDim))
            throw new InvalidDataException($"shared expert gate '{sharedGate.Weight.Name}' is [{sharedGate.OutputDim}, {sharedGate.InputDim}], expected [1, {router.InputDim}]");
        if (router.OutputDim != config.Count || experts.Length != config.Count)
            throw new InvalidDataException($"router '{router.Weight.Name}' has {router.OutputDim} outputs and {experts.Length} experts are given, for {config.Count} experts");
        _dim = router.InputDim;
        foreach (var e in experts.Append(shared))
        {
            if (e is not null && (e.Gate.InputDim != _dim || e.Down.OutputDim != _dim))
                throw new InvalidDataException($"expert '{e.Gate.Weight.Name}' maps {e.Gate.InputDim} -> {e.Down.OutputDim}, expected {_dim}");
        }
        Router = router;
        Experts = experts;
        Shared = shared;
        SharedGate = sharedGate;
        Config = config;
        ExpertParallelRows = expertParallelRows;
        _expertWork = 2 * _dim + experts.Max(e => e.ScratchPerRow);
    }

    public Linear Router { get; }
    public IReadOnlyList<GatedFeedForward> Experts { get; }
    public GatedFeedForward? Shared { get; }
    public Linear? SharedGate { get; }
    public ExpertsConfig Config { get; }
    /// <summary>The most rows whose experts run side by side, one expert per thread; 0: always the serial path.</summary>
    public int ExpertParallelRows { get; }

    /// <summary>One (row, expert) pair's working set: the gathered input row, its output row, the expert's scratch.</summary>
    private readonly int _expertWork;

    // Per row: router logits (+1, so the per-expert offsets fit even for one row), then the selected experts and
    // weights, the same sorted by expert, the shared expert's gate, then the larger of the shared expert's scratch and
    // one expert's working set.
    public int ScratchPerRow => Config.Count + 1 + 4 * Config.UsedCount + 1 + Math.Max(_expertWork, Shared?.ScratchPerRow ?? 0);
    // Side by side, every (row, expert) pair holds its own working set at once: k sets per row, for the few rows
    // that path takes.
    public int ScratchPerPass => ExpertParallelRows * Config.UsedCount * _expertWork;

    public IEnumerable<Runtime.Tensors.WeightMatrix> Matrices =>
        new[] { Router.Weight }.Concat(Experts.SelectMany(e => e.Matrices)).Concat(Shared?.Matrices ?? [])
            .Concat(SharedGate is null ? [] : [SharedGate.Weight]);

    /// <remarks>LoRA adapters never reach the experts: the adapter loader refuses feed-forward targets on such layers.</remarks>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows, WorkerPool pool, Lora.LoraBatch? lora = null)
    {
        int dim = _dim, count = Config.Count, k = Config.UsedCount, routed = rows * k;
        var logits = scratch.Slice(0, rows * (count + 1));                    // [T, count] router logits, then offsets
        var selected = MemoryMarshal.Cast<float, int>(scratch.Slice(logits.Length, routed));   // [T, k] expert ids
        var weights = scratch.Slice(logits.Length + routed, routed);                            // [T, k] their weights
        var groupRows = MemoryMarshal.Cast<float, int>(scratch.Slice(logits.Length + 2 * routed, routed)); // [T·k] rows by expert
        var groupWeights = scratch.Slice(logits.Length + 3 * routed, routed);                    // [T·k] their weights
        var sharedGate = scratch.Slice(logits.Length + 4 * routed, rows);                        // [T] shared expert gate
        var work = scratch.Slice(logits.Length + 4 * routed + rows);

        Router.Apply(x, logits, rows, pool);
        for (int r = 0; r < rows; r++)
            ExpertRouter.Route(logits.Slice(r * count, count), Config, selected.Slice(r * k, k), weights.Slice(r * k, k));

        // Counting sort of the (row, expert) pairs by expert, rows ascending within an expert.
        var ends = MemoryMarshal.Cast<float, int>(logits.Slice(0, count + 1));  // logits are consumed by now
        ends.Clear();
        foreach (int e in selected) ends[e + 1]++;
        for (int e = 0; e < count; e++) ends[e + 1] += ends[e];                 // ends[e] = first slot of e
        for (int i = 0; i < routed; i++)
        {
            int slot = ends[selected[i]]++;                                     // afterwards ends[e] = end of e
            groupRows[slot] = i / k;
            groupWeights[slot] = weights[i];
        }

        // y = shared(x) (times sigmoid(x·w_gate) per row where gated) or 0; then each expert over its rows:
        // y[row] += weight · expert(x[row]).
        if (Shared is not null)
        {
            Shared.Forward(x, y.Slice(0, rows * dim), work, rows, pool);
            if (SharedGate is not null)
            {
                SharedGate.Apply(x, sharedGate, rows, pool);
                TensorPrimitives.Sigmoid(sharedGate, sharedGate);
                for (int r = 0; r < rows; r++) TensorPrimitives.Multiply(y.Slice(r * dim, dim), sharedGate[r], y.Slice(r * dim, dim));
            }
        }
        else y.Slice(0, rows * dim).Clear();
        // Side by side when the batch is small and the caller gave the per-pass scratch (rows · ScratchPerRow alone,
        // the contract before that path, still runs, serially).
        if (rows <= ExpertParallelRows && work.Length >= routed * _expertWork)
        {
            ExpertsSideBySide(x, y, work, ends, groupRows, groupWeights, selected, pool);
            return;
        }
        for (int e = 0, start = 0; e < count; start = ends[e], e++)
        {
            int n = ends[e] - start;
            if (n > 0) AddOutputs(RunExpert(e, start, n, x, groupRows, work, pool), start, groupRows, groupWeights, y);
        }
    }

    /// <summary>
    /// Expert e over its n rows (slots [first, first + n) of the sorted pairs): gathers them into
    /// <paramref name="region"/> (n input rows, then n output rows, then the expert's scratch) and runs it there.
    /// Returns the output rows.
    /// </summary>
    private Span<float> RunExpert(int e, int first, int n, ReadOnlySpan<float> x, ReadOnlySpan<int> groupRows, Span<float> region, WorkerPool pool)
    {
        int dim = _dim;
        var input = region.Slice(0, n * dim);
        var output = region.Slice(n * dim, n * dim);
        for (int i = 0; i < n; i++) x.Slice(groupRows[first + i] * dim, dim).CopyTo(input.Slice(i * dim, dim));
        Experts[e].Forward(input, output, region.Slice(2 * n * dim), n, pool);
        return output;
    }

    /// <summary>y[row] += weight · output row, for an expert's slots [first, first + outputs rows) in order.</summary>
    private void AddOutputs(ReadOnlySpan<float> outputs, int first, ReadOnlySpan<int> groupRows, ReadOnlySpan<float> groupWeights, Span<float> y)
    {
        int dim = _dim;
        for (int i = 0; i < outputs.Length / dim; i++)
        {
            var dst = y.Slice(groupRows[first + i] * dim, dim);
            TensorPrimitives.MultiplyAdd(outputs.Slice(i * dim, dim), groupWeights[first + i], dst, dst);
        }
    }

    /// <summary>
    /// The experts that received rows, one per pool unit: each runs in its own part of <paramref name="work"/> (expert
    /// e's slots [s, s + n) of the sorted pairs own work[s·W, (s + n)·W), W the working set per pair) on one thread;
    /// then the outputs are added into y expert by expert, rows ascending, as the serial path adds them.
    /// </summary>
    private unsafe void ExpertsSideBySide(ReadOnlySpan<float> x, Span<float> y, Span<float> work, ReadOnlySpan<int> ends,
        ReadOnlySpan<int> groupRows, ReadOnlySpan<float> groupWeights, Span<int> active, WorkerPool pool)
    {
        int dim = _dim, expertWork = _expertWork, chosen = 0;
        for (int e = 0, start = 0; e < Config.Count; start = ends[e], e++)
            if (ends[e] > start) active[chosen++] = e;  // active reuses the selections, consumed by the sort
        fixed (float* px = x, pw = work)
        fixed (int* pEnds = ends, pRows = groupRows, pActive = active)
        {
            var body = new ExpertBody
            {
                Moe = this, X = px, XLength = x.Length, Work = pw, Ends = pEnds, Rows = pRows, Slots = groupRows.Length,
                Active = pActive, Pool = pool,
            };
            pool.Run(chosen, ref body);
        }
        for (int e = 0, first = 0; e < Config.Count; first = ends[e], e++)
        {
            int n = ends[e] - first;
            AddOutputs(work.Slice(first * expertWork + n * dim, n * dim), first, groupRows, groupWeights, y);
        }
    }

    /// <summary>Expert Active[i], in the work region its slots own (see <see cref="ExpertsSideBySide"/>).</summary>
    private unsafe struct ExpertBody : IRangeBody
    {
        public MixtureOfExperts Moe;
        public float* X, Work;
        public int XLength, Slots;
        public int* Ends, Rows, Active;
        public WorkerPool Pool;

        public readonly void Invoke(int start, int end)
        {
            int expertWork = Moe._expertWork;
            for (int i = start; i < end; i++)
            {
                int e = Active[i], first = e == 0 ? 0 : Ends[e - 1], n = Ends[e] - first;
                Moe.RunExpert(e, first, n, new ReadOnlySpan<float>(X, XLength), new ReadOnlySpan<int>(Rows, Slots),
                    new Span<float>(Work + (long)first * expertWork, n * expertWork), Pool);
            }
        }
    }
}
