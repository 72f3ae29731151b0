using Polly;
using Polly.Retry;

namespace Inkwell.Client.Resilience;

/// <summary>Builds the retry pipeline: exponential backoff with jitter, transient failures only,
/// honouring a server's Retry-After (capped).</summary>
internal static class RetryPipelineFactory
{
    public static ResiliencePipeline Create(InferenceClientOptions options)
    {
        if (options.MaxAttempts <= 1) return ResiliencePipeline.Empty;
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<InferenceClientException>(e => e.IsTransient),
                MaxRetryAttempts = options.MaxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.MaxRetryDelay,
                DelayGenerator = args =>
                    new ValueTask<TimeSpan?>(args.Outcome.Exception is InferenceClientException { RetryAfter: { } after }
                        ? TimeSpan.FromTicks(Math.Min(after.Ticks, options.MaxRetryDelay.Ticks))
                        : null),
            })
            .Build();
    }
}
