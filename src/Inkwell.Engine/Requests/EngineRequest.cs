using System.Diagnostics;
using System.Threading.Channels;
using Inkwell.Engine.Sampling;

namespace Inkwell.Engine.Requests;

public enum RequestStatus
{
    Waiting,
    Running,
    Finished,
}

/// <summary>
/// A request's state inside the engine (engine thread only): its tokens, how many of them have KV in the cache,
/// its block table, sampling state and output channel.
/// </summary>
public sealed class EngineRequest
{
    private readonly List<int> _tokens;

    public EngineRequest(long id, GenerationRequest request, int prefixTokenCount, CancellationToken cancellation)
    {
        Id = id;
        Request = request;
        PrefixTokenCount = prefixTokenCount;
        // Soft-prompt rows are placeholder token 0s in front of the prompt; their embeddings come from the request.
        _tokens = new List<int>(prefixTokenCount + request.PromptTokens.Count + request.Stopping.MaxNewTokens);
        _tokens.AddRange(Enumerable.Repeat(0, prefixTokenCount));
        _tokens.AddRange(request.PromptTokens);
        PromptLength = _tokens.Count;
        Cancellation = cancellation;
        Rng = new SplitMix64(request.Sampling.Seed);
        Output = Channel.CreateUnbounded<GenerationEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    }

    public long Id { get; }
    public GenerationRequest Request { get; }
    public int PrefixTokenCount { get; }
    /// <summary>Soft prompt placeholders plus prompt tokens.</summary>
    public int PromptLength { get; }
    public CancellationToken Cancellation { get; }
    public Channel<GenerationEvent> Output { get; }
    public RequestStatus Status { get; set; } = RequestStatus.Waiting;

    /// <summary>Prompt then generated tokens; the model has computed KV for the first NumComputedTokens.</summary>
    public List<int> Tokens => _tokens;
    public int NumComputedTokens { get; set; }
    public int NumTokensToCompute => _tokens.Count - NumComputedTokens;
    public int GeneratedCount => _tokens.Count - PromptLength;

    /// <summary>KV block ids in position order; full blocks up to HashedBlockCount are registered for prefix reuse.</summary>
    public List<int> Blocks { get; } = [];
    public int HashedBlockCount { get; set; }
    public KvCache.BlockHash? LastBlockHash { get; set; }
    public int PreemptionCount { get; set; }
    /// <summary>The scheduler step whose plan last included this request (the scheduler's own bookkeeping).</summary>
    public long ScheduledStep { get; set; }

    public SplitMix64 Rng;
    public int[]? GeneratedCounts { get; set; }  // [vocab] for frequency/presence penalties, made on first need
    public Decoding.TextAccumulator? Text { get; set; }
    public List<TokenInfo> GeneratedTokens { get; } = [];
    public List<IReadOnlyList<TokenInfo>>? TopTokens { get; set; }
    public List<TokenInfo>? Prefill { get; set; }

    public Stopwatch Clock { get; } = Stopwatch.StartNew();
    public TimeSpan? FirstScheduledAt { get; set; }
    public TimeSpan? FirstTokenAt { get; set; }
}
