using System.Diagnostics;
using CsCheck;
using Grpc.Core;
using Grpc.Net.Client;
using Inkwell.Server.Grpc.Fmaas;
using Xunit.Abstractions;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>
/// The TGIS gRPC service under arbitrary parameters (NaN and infinite floats, extreme counts, odd text): every call
/// ends OK, INVALID_ARGUMENT or RESOURCE_EXHAUSTED within the limit; never UNKNOWN or INTERNAL.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class GrpcFuzzTests(FuzzServer fixture, ITestOutputHelper output)
{
    // Each field is unset or plausible most of the time, so that whole calls are often valid and reach the engine.
    private static readonly Gen<float> Floats = Gen.Frequency(
        (6, Gen.Const(0f)),
        (5, Gen.Single[0.05f, 1f]),
        (1, Gen.Single[-2f, 3f]),
        (1, Gen.OneOf(float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, 1f, float.Epsilon, float.MaxValue)));

    private static readonly Gen<uint> Counts = Gen.Frequency(
        (6, Gen.Const(0u)),
        (5, Gen.UInt[1u, 12u]),
        (1, Gen.OneOf(1u, 511u, 512u, 1024u, 1025u, (uint)int.MaxValue, uint.MaxValue)));

    private static readonly Gen<bool> Rarely = Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true)));

    private static readonly Gen<string> Texts = FuzzCases.Text.Select(t => t.Replace(FuzzCases.LoneSurrogateMarker, "\ud800"));

    private static readonly Gen<Parameters> ParametersGen =
        from sample in Gen.Bool
        from f in Floats.Array[6]
        from n in Counts.Array[6]
        from flags in Rarely.Array[7]
        from stops in Gen.Frequency((4, Gen.Const(Array.Empty<string>())), (1, Texts.Array[1, 7]))
        select new Parameters
        {
            Method = sample ? DecodingMethod.Sample : DecodingMethod.Greedy,
            Sampling = new SamplingParameters { Temperature = f[0], TopK = n[0], TopP = f[1], TypicalP = f[2], Seed = n[1] },
            Stopping = new StoppingCriteria
            {
                MaxNewTokens = n[2],
                MinNewTokens = n[3],
                TimeLimitMillis = n[4] % 5000,
                StopSequences = { stops },
                IncludeStopSequence = flags[0],
            },
            Decoding = new DecodingParameters
            {
                RepetitionPenalty = f[3],
                LengthPenalty = flags[1] ? new DecodingParameters.Types.LengthPenalty { StartIndex = n[5], DecayFactor = f[4] } : null,
            },
            Response = new ResponseOptions
            {
                InputText = flags[2], GeneratedTokens = flags[3], InputTokens = flags[4], TokenLogprobs = flags[5], TokenRanks = flags[6],
                TopNTokens = n[5] % 8,
            },
            TruncateInputTokens = n[4],
        };

    private static readonly Gen<(string Text, Parameters Parameters, bool Stream)> Calls =
        Gen.Select(Gen.Frequency((3, Gen.Const("Once upon a time")), (1, Texts)), ParametersGen, Gen.Bool);

    [Fact]
    public async Task GenerateAndGenerateStream_EndOkOrWithAClientStatus()
    {
        using var channel = GrpcChannel.ForAddress($"http://{fixture.Server.GrpcTarget}");
        var client = new GenerationService.GenerationServiceClient(channel);
        long iterations = Math.Max(1, BodyFuzzTests.Iterations / 3);
        var statuses = new BodyFuzzTests.StatusTally();
        await Calls.SampleAsync(async call =>
        {
            if (await ViolationAsync(client, call.Text, call.Parameters, call.Stream, statuses) is { } violation)
                throw new Xunit.Sdk.XunitException($"{violation}\n  text: {ApiShape.Clip(call.Text)}\n  params: {call.Parameters}\n  stream: {call.Stream}");
        }, iter: iterations, threads: 4);
        output.WriteLine($"{iterations} calls: {statuses.Success} OK, {statuses.ClientError} INVALID_ARGUMENT or RESOURCE_EXHAUSTED, nothing else");
        Assert.True(statuses.Success > iterations / 20, $"only {statuses.Success} of {iterations} calls succeeded");
        Assert.True(statuses.ClientError > iterations / 20, $"only {statuses.ClientError} of {iterations} calls were refused");
    }

    /// <summary>Null when the call ended as the invariant allows; successes count as 200, refusals as 400 in the tally.</summary>
    private static async Task<string?> ViolationAsync(GenerationService.GenerationServiceClient client, string text, Parameters parameters, bool stream,
        BodyFuzzTests.StatusTally statuses)
    {
        var clock = Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + BodyFuzzTests.Limit;
        try
        {
            if (stream)
            {
                using var call = client.GenerateStream(new SingleGenerationRequest { Request = new GenerationRequest { Text = text }, Params = parameters }, deadline: deadline);
                while (await call.ResponseStream.MoveNext()) { }
            }
            else
            {
                await client.GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = text } }, Params = parameters }, deadline: deadline);
            }
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted)
        {
            statuses.Add(400);
            return clock.Elapsed > BodyFuzzTests.Limit ? $"took {clock.Elapsed.TotalSeconds:F1} s" : null;
        }
        catch (RpcException e)
        {
            return $"status {e.StatusCode}: {e.Status.Detail}";
        }
        statuses.Add(200);
        return clock.Elapsed > BodyFuzzTests.Limit ? $"took {clock.Elapsed.TotalSeconds:F1} s" : null;
    }
}
