using Inkwell.Models.Kv;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models;

/// <summary>
/// What the engine needs of a model: its shape, a paged KV cache to match, and a forward pass over a batch of
/// sequence chunks. Every family runs behind it; not thread-safe (one engine thread owns an instance).
/// </summary>
public interface ICausalLM : IDisposable
{
    ModelConfig Config { get; }
    WorkerPool Pool { get; }

    /// <summary>Bytes of weight data (for startup logs and memory accounting).</summary>
    long WeightBytes { get; }

    KvCacheStorage CreateKvCache(int blockSize, int blockCount);

    /// <summary>The LoRA adapters a chunk may select by slot (<see cref="SequenceChunk.Adapter"/>); null = none.</summary>
    Lora.LoraAdapterSet? Adapters => null;

    /// <summary>
    /// Runs the chunks through the model, writing their keys and values into <paramref name="kv"/>, and returns
    /// logits [rows, vocab] for the rows the chunks asked for, in chunk order. The span is valid until the next call.
    /// </summary>
    ReadOnlySpan<float> Forward(ReadOnlySpan<SequenceChunk> chunks, KvCacheStorage kv);

    /// <summary>
    /// A private cache for one sequence of up to <paramref name="tokens"/> positions and its block table (blocks in
    /// order), for callers that run the model directly without the engine's block pool (bench, perplexity, tests).
    /// </summary>
    (KvCacheStorage Kv, int[] BlockTable) CreateSequenceCache(int tokens, int blockSize = 16)
    {
        int blocks = Math.Max(1, (tokens + blockSize - 1) / blockSize);
        return (CreateKvCache(blockSize, blocks), Enumerable.Range(0, blocks).ToArray());
    }
}
