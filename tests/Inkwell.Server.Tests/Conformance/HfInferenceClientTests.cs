using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Conformance;

/// <summary>
/// TGI's REST API as the Hugging Face JS client (@huggingface/inference, written by Hugging Face, not us) sees it:
/// textGeneration and textGenerationStream with an endpoint URL, against a real Inkwell server on the embedded model.
/// </summary>
public sealed class HfInferenceClientTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private const string Prompt = "Once upon a time";
    private const int MaxNewTokens = 64;

    [HfInferenceFact]
    public async Task TextGeneration_and_stream_match_our_greedy_generate_and_the_golden_text()
    {
        var server = fixture.Server;
        var ours = await server.Client.PostAsJsonAsync("/generate",
            new { inputs = Prompt, parameters = new { max_new_tokens = MaxNewTokens, do_sample = false, details = true } });
        Assert.Equal(HttpStatusCode.OK, ours.StatusCode);
        var oursJson = JsonNode.Parse(await ours.Content.ReadAsStringAsync())!;
        string expected = oursJson["generated_text"]!.GetValue<string>();
        var expectedIds = oursJson["details"]!["tokens"]!.AsArray().Select(t => t!["id"]!.GetValue<int>()).ToList();
        Assert.Equal(MaxNewTokens, expectedIds.Count);

        var peer = await HfInferenceClient.GenerateAsync(server.Client.BaseAddress!, Prompt, MaxNewTokens);

        // textGeneration: the same text as our own /generate, and the author's golden continuation of the prompt.
        var unaryJson = peer.GetProperty("unary");
        string unary = unaryJson.GetProperty("generated_text").GetString()!;
        Assert.Equal(expected, unary);
        var unaryDetails = unaryJson.GetProperty("details");
        Assert.Equal("length", unaryDetails.GetProperty("finish_reason").GetString());
        Assert.Equal(expectedIds, unaryDetails.GetProperty("tokens").EnumerateArray().Select(t => t.GetProperty("id").GetInt32()));
        Assert.True(unary.Length > 150, $"too short to be a real continuation: \"{unary}\"");
        Assert.StartsWith(unary, server.GoldenGreedy[Prompt.Length..], StringComparison.Ordinal);

        // textGenerationStream: one event per token; joined they are the same text, ids as /generate's details.
        var stream = peer.GetProperty("stream");
        var tokens = stream.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(expectedIds, tokens.Select(t => t.GetProperty("id").GetInt32()));
        Assert.All(tokens, t => Assert.False(t.GetProperty("special").GetBoolean()));
        string joined = string.Concat(tokens.Select(t => t.GetProperty("text").GetString()));
        Assert.Equal(unary, joined);

        var final = stream.GetProperty("final");
        Assert.Equal(JsonValueKind.Object, final.ValueKind);
        Assert.Equal(unary, final.GetProperty("generated_text").GetString());
        var details = final.GetProperty("details");
        Assert.Equal("length", details.GetProperty("finish_reason").GetString());
        Assert.Equal(MaxNewTokens, details.GetProperty("generated_tokens").GetInt32());
    }
}
