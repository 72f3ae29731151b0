using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Inkwell.Server.Tests.Tgi;

/// <summary>TGI's REST API through the real HTTP stack, on the embedded model.</summary>
public class TgiApiTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private HttpClient Client => fixture.Server.Client;

    private async Task<(HttpStatusCode, JsonNode)> Post(string path, object body)
    {
        var response = await Client.PostAsJsonAsync(path, body);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task Greedy_generate_continues_the_prompt_with_the_golden_text()
    {
        var response = await Client.PostAsJsonAsync("/generate", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 50, details = true } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        string text = json["generated_text"]!.GetValue<string>();
        Assert.True(text.Length > 100);
        Assert.StartsWith(text, fixture.Server.GoldenGreedy["Once upon a time".Length..]);
        Assert.Equal("length", json["details"]!["finish_reason"]!.GetValue<string>());
        Assert.Equal(50, json["details"]!["generated_tokens"]!.GetValue<int>());
        Assert.Equal(50, json["details"]!["tokens"]!.AsArray().Count);
        Assert.Equal("cpu", response.Headers.GetValues("x-compute-type").Single());
        Assert.Equal("5", response.Headers.GetValues("x-prompt-tokens").Single());
        Assert.Equal("50", response.Headers.GetValues("x-generated-tokens").Single());
        foreach (var h in new[] { "x-compute-time", "x-total-time", "x-validation-time", "x-queue-time", "x-inference-time", "x-time-per-token" })
            Assert.True(response.Headers.Contains(h), h);
    }

    [Fact]
    public async Task Streaming_joined_equals_non_streaming_for_the_same_seed()
    {
        var parameters = new { max_new_tokens = 40, do_sample = true, temperature = 0.9, seed = 1234, details = true };
        var (_, unary) = await Post("/generate", new { inputs = "The little dog", parameters });
        var request = new HttpRequestMessage(HttpMethod.Post, "/generate_stream") { Content = JsonContent.Create(new { inputs = "The little dog", parameters }) };
        var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => JsonNode.Parse(e["data:".Length..])!).ToList();
        var joined = string.Concat(events.Select(e => e["token"]!["text"]!.GetValue<string>()));
        Assert.Equal(unary["generated_text"]!.GetValue<string>(), joined);
        Assert.Equal(joined, events[^1]["generated_text"]!.GetValue<string>());
        Assert.All(events.SkipLast(1), e => Assert.Null(e["generated_text"]));
        Assert.Equal(1234, events[^1]["details"]!["seed"]!.GetValue<long>());
        // TGI numbers stream events from 1 (router server.rs increments before sending).
        Assert.Equal(Enumerable.Range(1, events.Count), events.Select(e => e["index"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Root_route_returns_a_one_element_array_or_a_stream()
    {
        var (status, json) = await Post("/", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 5 } });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Single(json.AsArray());
        var streamed = await Client.PostAsJsonAsync("/", new { inputs = "Once upon a time", stream = true, parameters = new { max_new_tokens = 5 } });
        Assert.Equal("text/event-stream", streamed.Content.Headers.ContentType!.MediaType);
    }

    public static IEnumerable<object[]> InvalidParameters() =>
    [
        [new { temperature = 0.0 }, "Input validation error: `temperature` must be strictly positive"],
        [new { temperature = -1.0 }, "Input validation error: `temperature` must be strictly positive"],
        [new { repetition_penalty = 0.0 }, "Input validation error: `repetition_penalty` must be strictly positive"],
        [new { frequency_penalty = 3.0 }, "Input validation error: `frequency_penalty` must be >= -2.0 and <= 2.0"],
        [new { top_p = 1.0 }, "Input validation error: `top_p` must be > 0.0 and < 1.0"],
        [new { top_p = 0.0 }, "Input validation error: `top_p` must be > 0.0 and < 1.0"],
        [new { typical_p = 1.5 }, "Input validation error: `typical_p` must be > 0.0 and < 1.0"],
        [new { top_k = 0 }, "Input validation error: `top_k` must be strictly positive"],
        [new { max_new_tokens = 0 }, "Input validation error: `max_new_tokens` must be strictly positive"],
        [new { stop = new[] { "a", "b", "c", "d", "e" } }, "Input validation error: `stop` supports up to 4 stop sequences. Given: 5"],
        [new { top_n_tokens = 6 }, "Input validation error: `top_n_tokens` must be >= 0 and <= 5. Given: 6"],
        [new { truncate = 0 }, "Input validation error: `truncate` must be strictly positive and less than 2047. Given: 0"],
        [new { best_of = 2 }, "Input validation error: you must use sampling when `best_of` is > 1"],
        [new { best_of = 3, do_sample = true }, "Input validation error: `best_of` must be > 0 and <= 2. Given: 3"],
        [new { best_of = 2, do_sample = true, seed = 5 }, "Input validation error: `seed` must not be set when `best_of` > 1"],
        [new { max_new_tokens = 5000 }, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: 5 `inputs` tokens and 5000 `max_new_tokens`"],
    ];

    [Theory]
    [MemberData(nameof(InvalidParameters))]
    public async Task Invalid_parameters_get_TGIs_422_message(object parameters, string message)
    {
        var (status, json) = await Post("/generate", new { inputs = "Once upon a time", parameters });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal(message, json["error"]!.GetValue<string>());
        Assert.Equal("validation", json["error_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Empty_inputs_and_too_long_inputs_are_rejected()
    {
        var (status, json) = await Post("/generate", new { inputs = "" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("Input validation error: `inputs` cannot be empty", json["error"]!.GetValue<string>());

        string longInput = string.Concat(Enumerable.Repeat("Once upon a time ", 600));
        (status, json) = await Post("/generate", new { inputs = longInput, parameters = new { max_new_tokens = 1 } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        // TGI checks the total before the input length, so with max_input = max_total - 1 the total fails first.
        Assert.StartsWith("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: ", json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Streaming_refuses_best_of_and_decoder_input_details()
    {
        var (status, json) = await Post("/generate_stream", new { inputs = "Hi", parameters = new { best_of = 2, do_sample = true } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("Input validation error: `best_of` != 1 is not supported when streaming tokens", json["error"]!.GetValue<string>());
        (status, json) = await Post("/generate_stream", new { inputs = "Hi", parameters = new { decoder_input_details = true } });
        Assert.Equal("Input validation error: `decoder_input_details` == true is not supported when streaming tokens", json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Details_carry_prefill_top_tokens_and_best_of_sequences()
    {
        var (status, json) = await Post("/generate", new
        {
            inputs = "Once upon a time",
            parameters = new { max_new_tokens = 6, details = true, decoder_input_details = true, top_n_tokens = 3, best_of = 2, do_sample = true },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var details = json["details"]!;
        var prefill = details["prefill"]!.AsArray();
        Assert.Equal(new[] { 1, 403, 407, 261, 378 }, prefill.Select(p => p!["id"]!.GetValue<int>()));
        Assert.Null(prefill[0]!["logprob"]);
        Assert.All(prefill.Skip(1), p => Assert.True(p!["logprob"]!.GetValue<float>() < 0));
        var top = details["top_tokens"]!.AsArray();
        Assert.Equal(6, top.Count);
        Assert.All(top, step => Assert.Equal(3, step!.AsArray().Count));
        Assert.Single(details["best_of_sequences"]!.AsArray());
    }

    [Fact]
    public async Task Greedy_top_tokens_are_sorted_and_led_by_the_chosen_token()
    {
        var (_, json) = await Post("/generate", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 8, details = true, top_n_tokens = 4 } });
        var tokens = json["details"]!["tokens"]!.AsArray();
        var top = json["details"]!["top_tokens"]!.AsArray();
        for (int i = 0; i < tokens.Count; i++)
        {
            var step = top[i]!.AsArray();
            Assert.Equal(4, step.Count);
            Assert.Equal(tokens[i]!["id"]!.GetValue<int>(), step[0]!["id"]!.GetValue<int>());
            Assert.Equal(tokens[i]!["logprob"]!.GetValue<float>(), step[0]!["logprob"]!.GetValue<float>(), 4);
            var logprobs = step.Select(t => t!["logprob"]!.GetValue<float>()).ToList();
            Assert.Equal(logprobs.OrderByDescending(x => x), logprobs);
            Assert.Equal(4, step.Select(t => t!["id"]!.GetValue<int>()).Distinct().Count());
            Assert.True(logprobs.Sum(x => Math.Exp(x)) <= 1.0001);
        }
    }

    [Fact]
    public async Task Prefill_and_top_token_texts_are_decoded_text_not_vocabulary_pieces()
    {
        // TGI decodes these ids to text (tokenizer.batch_decode); a SentencePiece piece's U+2581 is a space there,
        // never shown. Joined, the prefill after BOS is the prompt with SentencePiece's dummy-prefix space.
        var (_, json) = await Post("/generate", new
        {
            inputs = "Once upon a time",
            parameters = new { max_new_tokens = 4, details = true, decoder_input_details = true, top_n_tokens = 2 },
        });
        var details = json["details"]!;
        var prefill = details["prefill"]!.AsArray().Skip(1).Select(p => p!["text"]!.GetValue<string>());
        Assert.Equal(" Once upon a time", string.Concat(prefill));
        var tokens = details["tokens"]!.AsArray();
        var top = details["top_tokens"]!.AsArray();
        for (int i = 0; i < tokens.Count; i++)
        {
            Assert.Equal(tokens[i]!["text"]!.GetValue<string>(), top[i]![0]!["text"]!.GetValue<string>());
            Assert.All(top[i]!.AsArray(), t => Assert.DoesNotContain('\u2581', t!["text"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task Stop_sequence_and_return_full_text()
    {
        var (_, json) = await Post("/generate", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 60, stop = new[] { "little" }, details = true, return_full_text = true } });
        Assert.Equal("Once upon a time, there was a little", json["generated_text"]!.GetValue<string>());
        Assert.Equal("stop_sequence", json["details"]!["finish_reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tokenize_keeps_the_last_tokens_when_parameters_truncate_is_set()
    {
        // TGI's /tokenize truncates as /generate does (prepare_input); ids from stories260K's README
        // ("Once upon a time" = 1 403 407 261 378), BOS kept first as the one truncation rule says.
        var (status, tokens) = await Post("/tokenize", new { inputs = "Once upon a time", parameters = new { truncate = 3 } });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(new[] { 1, 261, 378 }, tokens.AsArray().Select(t => t!["id"]!.GetValue<int>()));
        Assert.Equal(" time", tokens[2]!["text"]!.GetValue<string>());

        // A text over the input limit can be tokenized with truncate, as it can be generated from.
        string longText = string.Concat(Enumerable.Repeat("Once upon a time ", 1000));
        (status, tokens) = await Post("/tokenize", new { inputs = longText, parameters = new { truncate = 10 } });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10, tokens.AsArray().Count);

        (status, var error) = await Post("/tokenize", new { inputs = "Once", parameters = new { truncate = 0 } });
        Assert.Equal((HttpStatusCode)422, status);
        Assert.Equal("validation", error["error_type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tokenize_info_health_metrics_and_openapi()
    {
        var (status, tokens) = await Post("/tokenize", new { inputs = "Once upon a time" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(new[] { 1, 403, 407, 261, 378 }, tokens.AsArray().Select(t => t!["id"]!.GetValue<int>()));
        Assert.Equal("Once", tokens[1]!["text"]!.GetValue<string>().Trim());

        var info = JsonNode.Parse(await Client.GetStringAsync("/info"))!;
        Assert.Equal(2048, info["max_total_tokens"]!.GetValue<int>());
        Assert.Equal(2047, info["max_input_tokens"]!.GetValue<int>());
        Assert.Equal("cpu", info["model_device_type"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/health")).StatusCode);

        await Post("/generate", new { inputs = "Hi", parameters = new { max_new_tokens = 2 } });
        string metrics = await Client.GetStringAsync("/metrics");
        foreach (var name in new[] { "tgi_request_count", "tgi_request_success", "tgi_queue_size", "tgi_batch_current_size", "tgi_request_duration_bucket",
                     "tgi_request_queue_duration_count", "tgi_request_inference_duration_sum", "tgi_request_generated_tokens_bucket",
                     "tgi_request_input_length_count", "tgi_batch_forward_duration_bucket{method=\"prefill\"", "tgi_request_time_to_first_token_duration_count" })
            Assert.Contains(name, metrics);
        Assert.Contains("# TYPE tgi_request_duration histogram", metrics);

        var openapi = JsonNode.Parse(await Client.GetStringAsync("/openapi.json"))!;
        Assert.NotNull(openapi["paths"]!["/generate_stream"]);
    }

    [Fact]
    public async Task Malformed_json_is_a_422()
    {
        var response = await Client.PostAsync("/generate", new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("validation", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error_type"]!.GetValue<string>());
    }
}
