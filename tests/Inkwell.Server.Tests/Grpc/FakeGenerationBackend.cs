using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Inkwell.Server.Grpc;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>
/// A backend whose behaviour the input text picks: echoes by default, waits for cancellation on
/// <see cref="WaitForCancel"/>, and in streams holds after the first word until <see cref="StreamGate"/> opens
/// when the text starts with <see cref="Gated"/>.
/// </summary>
internal sealed class FakeGenerationBackend : IGenerationBackend
{
    public const string WaitForCancel = "wait-for-cancel";
    public const string Gated = "gated";
    public const string Fail = "fail";

    public GenerationModelInfo ModelInfo { get; } = new(ModelInfoResponse.Types.ModelKind.DecoderOnly, MaxSequenceLength: 2048, MaxNewTokens: 1024);

    public ConcurrentQueue<ValidatedGenerationRequest> Received { get; } = new();

    /// <summary>Completes when a call's token was cancelled while the backend waited on it.</summary>
    public TaskCompletionSource CancellationObserved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource StreamGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<GenerationResponse> GenerateAsync(ValidatedGenerationRequest request, CancellationToken cancellationToken)
    {
        Received.Enqueue(request);
        if (request.Text == WaitForCancel) await WaitForCancellationAsync(cancellationToken);
        if (request.Text == Fail) throw new RpcException(new Status(StatusCode.ResourceExhausted, "Model is overloaded"));
        await Task.Yield();
        var words = Words(request.Text);
        return new GenerationResponse
        {
            InputTokenCount = (uint)words.Length,
            GeneratedTokenCount = (uint)Math.Min(words.Length, request.Parameters.MaxNewTokens),
            Text = "echo: " + request.Text,
            StopReason = StopReason.MaxTokens,
            Seed = request.Parameters.Seed ?? 0,
        };
    }

    public async IAsyncEnumerable<GenerationResponse> GenerateStreamAsync(ValidatedGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Received.Enqueue(request);
        var words = Words(request.Text);
        yield return new GenerationResponse { InputTokenCount = (uint)words.Length };
        if (request.Text == WaitForCancel) await WaitForCancellationAsync(cancellationToken);

        for (int i = 0; i < words.Length; i++)
        {
            if (i == 1 && request.Text.StartsWith(Gated, StringComparison.Ordinal)) await StreamGate.Task.WaitAsync(cancellationToken);
            bool last = i == words.Length - 1;
            yield return new GenerationResponse
            {
                GeneratedTokenCount = (uint)(i + 1),
                Text = words[i] + (last ? "" : " "),
                StopReason = last ? StopReason.EosToken : StopReason.NotFinished,
            };
        }
    }

    public Task<TokenizeResponse> TokenizeAsync(string text, TokenizeOptions options, CancellationToken cancellationToken)
    {
        var response = new TokenizeResponse { TokenCount = (uint)Words(text).Length };
        if (options.ReturnTokens) response.Tokens.AddRange(Words(text));
        if (options.ReturnOffsets)
        {
            int start = 0;
            foreach (var word in Words(text))
            {
                start = text.IndexOf(word, start, StringComparison.Ordinal);
                response.Offsets.Add(new TokenizeResponse.Types.Offset { Start = (uint)start, End = (uint)(start + word.Length) });
                start += word.Length;
            }
        }
        return Task.FromResult(response);
    }

    private async Task WaitForCancellationAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            CancellationObserved.TrySetResult();
            throw;
        }
    }

    private static string[] Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
