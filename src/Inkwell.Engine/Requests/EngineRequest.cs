using System.Diagnostics;
using System.Runtime.InteropServices;
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
/// What the engine thread hands the output stage per sampled token: the id, its log-probability, and the finish
/// reason when this token ended the sequence (Error: see <see cref="EngineRequest.FailureMessage"/>). A struct, so
/// emitting a token allocates nothing.
/// </summary>
public readonly record struct StepOutput(int Token, float LogProb, FinishReason? Finish);

/// <summary>
/// A request's state inside the engine (engine thread only, except what the output stage reads after the events
/// that publish it): its tokens, how many of them have KV in the cache, its block table, sampling state and output channel.
/// </summary>
public sealed class EngineRequest
{
    private readonly List<int> _tokens;

    public EngineRequest(long id, GenerationRequest request, int prefixTokenCount, LogitsPipeline pipeline, CancellationToken cancellation)
    {
        Id = id;
        Request = request;
        PrefixTokenCount = prefixTokenCount;
        Pipeline = pipeline;
        // Soft-prompt rows are placeholder token 0s in front of the prompt; their embeddings come from the request.
        _tokens = new List<int>(prefixTokenCount + request.PromptTokens.Count + request.Stopping.MaxNewTokens);
        _tokens.AddRange(Enumerable.Repeat(0, prefixTokenCount));
        _tokens.AddRange(request.PromptTokens);
        PromptLength = _tokens.Count;
        Cancellation = cancellation;
        Rng = new SplitMix64(request.Sampling.Seed);
        Output = Channel.CreateUnbounded<StepOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    }

    public long Id { get; }
    public GenerationRequest Request { get; }
    public int PrefixTokenCount { get; }
    /// <summary>
    /// Salt of its prefix-cache hashes: the soft prompt's and the adapter's, so equal tokens under another soft prompt or
    /// adapter (different KV) never share blocks.
    /// </summary>
    public ulong CacheSalt => Request.Adapter is { } adapter ? Request.PrefixSalt * 0x9E3779B97F4A7C15UL ^ adapter.CacheSalt : Request.PrefixSalt;
    /// <summary>Soft prompt placeholders plus prompt tokens.</summary>
    public int PromptLength { get; }
    public CancellationToken Cancellation { get; }
    public Channel<StepOutput> Output { get; }
    public LogitsPipeline Pipeline { get; }
    public RequestStatus Status { get; set; } = RequestStatus.Waiting;

    /// <summary>Prompt then generated tokens; the model has computed KV for the first NumComputedTokens.</summary>
    public List<int> Tokens => _tokens;
    public int NumComputedTokens { get; set; }
    public int NumTokensToCompute => _tokens.Count - NumComputedTokens;
    public int GeneratedCount => _tokens.Count - PromptLength;

    /// <summary>What processors see: the prompt (without soft-prompt placeholders) and the generated tokens.</summary>
    public SequenceState State => StateAt(_tokens.Count);

    /// <summary>The state as of the first <paramref name="length"/> tokens (speculative verification: before a draft position).</summary>
    public SequenceState StateAt(int length)
    {
        var all = CollectionsMarshal.AsSpan(_tokens);
        return new SequenceState(all[PrefixTokenCount..PromptLength], all[PromptLength..length], Request.Stopping.MaxNewTokens);
    }

    /// <summary>This step's draft tokens under speculative decoding (null until the request first drafts).</summary>
    public Speculation.DraftState? Draft { get; set; }

    /// <summary>KV block ids in position order; the leading full blocks <see cref="Prefix"/> counts are registered for prefix reuse.</summary>
    public List<int> Blocks { get; } = [];
    public KvCache.PrefixChain Prefix;
    public int PreemptionCount { get; set; }
    /// <summary>The scheduler step whose plan last included this request (the scheduler's own bookkeeping).</summary>
    public long ScheduledStep { get; set; }

    public SplitMix64 Rng;
    /// <summary>Log-probability of each prompt token after the first (decoder_input_details), filled during prefill.</summary>
    public float[]? PrefillLogProbs { get; set; }
    /// <summary>Set before the Error step output is written.</summary>
    public string? FailureMessage { get; set; }

    public Stopwatch Clock { get; } = Stopwatch.StartNew();
    public TimeSpan? FirstScheduledAt { get; set; }
    public TimeSpan? FirstTokenAt { get; set; }
}
