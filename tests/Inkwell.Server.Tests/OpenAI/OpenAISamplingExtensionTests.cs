using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Tgi;
using static Inkwell.Server.Tests.OpenAI.Http;

namespace Inkwell.Server.Tests.OpenAI;

/// <summary>
/// vLLM's top_k and repetition_penalty on the OpenAI routes (the playground sends them in chat): top_k 1 must give the
/// model's golden greedy text (llama2.c's) even at a high temperature, and the repetition penalty must act as TGI's does.
/// </summary>
public sealed class OpenAISamplingExtensionTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private const string Prompt = "Once upon a time";
    private HttpClient Client => fixture.Server.Client;
    private string Model => fixture.Server.State.ModelId;
    private string Golden => fixture.Server.GoldenGreedy[Prompt.Length..];

    private async Task<string> Complete(object body)
    {
        var (status, json) = await PostJson(Client, "/v1/completions", body);
        Assert.True(status == 200, json.ToJsonString());
        return json["choices"]![0]!["text"]!.GetValue<string>();
    }

    [Fact]
    public async Task TopKOfOneIsGreedyWhateverTheTemperature()
    {
        string topOne = await Complete(new { model = Model, prompt = Prompt, max_tokens = 40, temperature = 1.5, seed = 11, top_k = 1 });
        Assert.StartsWith(topOne, Golden);
        Assert.True(topOne.Length > 60, topOne);
        // Without it the same seed samples elsewhere: the parameter is what made it greedy.
        string sampled = await Complete(new { model = Model, prompt = Prompt, max_tokens = 40, temperature = 1.5, seed = 11 });
        Assert.NotEqual(topOne, sampled);
    }

    [Fact]
    public async Task RepetitionPenaltyActsAsTgisDoes()
    {
        string penalised = await Complete(new { model = Model, prompt = Prompt, max_tokens = 60, temperature = 0, repetition_penalty = 1.5 });
        using var response = await Client.PostAsJsonAsync("/generate", new { inputs = Prompt, parameters = new { max_new_tokens = 60, repetition_penalty = 1.5 } });
        string tgi = (await response.Content.ReadFromJsonAsync<JsonNode>())!["generated_text"]!.GetValue<string>();
        Assert.Equal(tgi, penalised);
        Assert.False(Golden.StartsWith(penalised, StringComparison.Ordinal), "the penalty changed nothing");
    }

    [Theory]
    [InlineData("top_k", -2)]
    [InlineData("repetition_penalty", 0)]
    [InlineData("repetition_penalty", -1)]
    public async Task OutOfRangeValuesAre400sNamingTheParameter(string parameter, double value)
    {
        var body = new JsonObject { ["model"] = Model, ["prompt"] = Prompt, ["max_tokens"] = 4, [parameter] = value };
        var (status, json) = await PostJson(Client, "/v1/completions", body);
        Assert.Equal(400, status);
        AssertOpenAIError(json, parameter);
        Assert.StartsWith($"Invalid '{parameter}'", json["error"]!["message"]!.GetValue<string>());
    }
}
