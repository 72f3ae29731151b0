using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Generation;

/// <summary>
/// min_new_tokens / ignore_eos over TGI (extra `parameters`) and OpenAI (vLLM's min_tokens / ignore_eos). The
/// embedded model all but never ends a story by itself, so a logit_bias of +100 on its EOS makes it end at once; the
/// knobs must hold it off, and what comes instead is the model's golden greedy continuation (from llama2.c).
/// </summary>
public sealed class EosKnobTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private const string Prompt = "Once upon a time";
    private HttpClient Client => fixture.Server.Client;
    private string Golden => fixture.Server.GoldenGreedy[Prompt.Length..];
    private Dictionary<string, float> EosBias => new() { [fixture.Server.State.Tokenizer.EosId.ToString()] = 100f };

    private async Task<(int Status, JsonNode Body)> PostAsync(string path, object body)
    {
        using var response = await Client.PostAsJsonAsync(path, body);
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private async Task<JsonNode> TgiAsync(object parameters)
    {
        var (status, body) = await PostAsync("/generate", new { inputs = Prompt, parameters });
        Assert.True(status == 200, body.ToJsonString());
        return body;
    }

    [Fact]
    public async Task Tgi_MinNewTokens_HoldsOffEos_ThenItEnds()
    {
        var ends = await TgiAsync(new { max_new_tokens = 20, details = true, logit_bias = EosBias });
        Assert.Equal("eos_token", ends["details"]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(1, ends["details"]!["generated_tokens"]!.GetValue<int>());

        var held = await TgiAsync(new { max_new_tokens = 20, details = true, logit_bias = EosBias, min_new_tokens = 5 });
        Assert.Equal("eos_token", held["details"]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(6, held["details"]!["generated_tokens"]!.GetValue<int>());
        string text = held["generated_text"]!.GetValue<string>();
        Assert.True(text.Length > 5);
        Assert.StartsWith(text, Golden);
    }

    [Fact]
    public async Task Tgi_IgnoreEos_RunsToMaxNewTokens()
    {
        var run = await TgiAsync(new { max_new_tokens = 12, details = true, logit_bias = EosBias, ignore_eos = true });
        Assert.Equal("length", run["details"]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(12, run["details"]!["generated_tokens"]!.GetValue<int>());
        Assert.StartsWith(run["generated_text"]!.GetValue<string>(), Golden);
    }

    [Theory]
    [InlineData("""{"min_new_tokens": -1}""", "Input validation error: `min_new_tokens` must be >= 0")]
    [InlineData("""{"min_new_tokens": 10, "max_new_tokens": 5}""", "Input validation error: `min_new_tokens` must be <= `max_new_tokens`")]
    [InlineData("""{"logit_bias": {"x": 1}}""", "Input validation error: `logit_bias` keys must be token ids; got 'x'")]
    [InlineData("""{"logit_bias": {"5": 101}}""", "Input validation error: `logit_bias` values must be between -100 and 100; got 101 for token 5")]
    [InlineData("""{"logit_bias": {"99999": 1}}""", "Input validation error: logit_bias: token id 99999 is not in the vocabulary (0 to 511)")]
    public async Task Tgi_BadKnobs_Are422(string parameters, string message)
    {
        var (status, body) = await PostAsync("/generate", new { inputs = Prompt, parameters = JsonNode.Parse(parameters) });
        Assert.Equal(422, status);
        Assert.Equal(message, body["error"]!.GetValue<string>());
        Assert.Equal("validation", body["error_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenAI_MinTokens_HoldsOffEos_AndIgnoreEos_RunsToMaxTokens()
    {
        var (status, ends) = await PostAsync("/v1/completions", new { model = "m", prompt = Prompt, max_tokens = 20, temperature = 0, logit_bias = EosBias });
        Assert.Equal(200, status);
        Assert.Equal("stop", ends["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(1, ends["usage"]!["completion_tokens"]!.GetValue<int>());

        var (_, held) = await PostAsync("/v1/completions", new { model = "m", prompt = Prompt, max_tokens = 20, temperature = 0, logit_bias = EosBias, min_tokens = 5 });
        Assert.Equal("stop", held["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(6, held["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.StartsWith(held["choices"]![0]!["text"]!.GetValue<string>(), Golden);

        var (_, run) = await PostAsync("/v1/completions", new { model = "m", prompt = Prompt, max_tokens = 12, temperature = 0, logit_bias = EosBias, ignore_eos = true });
        Assert.Equal("length", run["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(12, run["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.StartsWith(run["choices"]![0]!["text"]!.GetValue<string>(), Golden);
    }

    [Theory]
    [InlineData("""{"min_tokens": -1}""", "min_tokens")]
    [InlineData("""{"min_tokens": 10, "max_tokens": 5}""", "min_tokens")]
    [InlineData("""{"logit_bias": {"x": 1}}""", "logit_bias")]
    [InlineData("""{"truncate_prompt_tokens": 0}""", "truncate_prompt_tokens")]
    public async Task OpenAI_BadKnobs_Are400WithTheirParam(string extra, string param)
    {
        var body = JsonNode.Parse(extra)!.AsObject();
        body["model"] = "m";
        body["prompt"] = Prompt;
        var (status, error) = await PostAsync("/v1/completions", body);
        Assert.Equal(400, status);
        Assert.Equal("invalid_request_error", error["error"]!["type"]!.GetValue<string>());
        Assert.Equal(param, error["error"]!["param"]!.GetValue<string>());
    }
}
