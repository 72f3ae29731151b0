using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Inkwell.Client.ChatClient;
using Inkwell.Client.OpenAI;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.Tests.RealServer;

/// <summary>The embedded model behind Qwen2.5's chat template (from ../shared/templates; it renders tools, calls and
/// results), served for the tests of one class.</summary>
public sealed class TemplatedInkwellServer : IAsyncLifetime
{
    public const string ModelId = "test/stories260k";

    public InkwellProcessServer? Server { get; private set; }

    public async Task InitializeAsync()
    {
        // Without ../shared the tests that use this skip ([SharedFact]); nothing to start.
        if (RepoPaths.HasShared)
            Server = await InkwellProcessServer.StartAsync(new ServerOptions
            {
                ModelId = ModelId,
                ChatTemplatePath = RepoPaths.InShared("templates", "Qwen-Qwen2.5-7B-Instruct.jinja"),
            });
    }

    public async Task DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
    }
}

/// <summary>
/// InkwellChatClient's tool calling against the real server: calls the server makes under a named tool_choice (its
/// JSON-schema grammar), read back as FunctionCallContent whose arguments must satisfy the schema Microsoft.Extensions.AI
/// generated for the function; and Microsoft.Extensions.AI's own FunctionInvokingChatClient running the whole loop
/// (call, invoke, replay the call and its result) over InkwellChatClient. The model knows nothing of tools, so what is
/// asserted is the shape and the schema, never a particular city.
/// </summary>
public sealed class ChatClientToolCallingTests(TemplatedInkwellServer fixture) : IClassFixture<TemplatedInkwellServer>
{
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "What is the weather in Paris?")];

    private IChatClient NewChatClient() => new InkwellChatClient(
        new OpenAIClient(new InferenceClientOptions { BaseAddress = fixture.Server!.BaseAddress, DefaultRequestTimeout = TimeSpan.FromSeconds(120) }),
        TemplatedInkwellServer.ModelId, ownsClient: true);

    /// <summary>The bounds (a short city, 1-7 days) come from the attributes through Microsoft.Extensions.AI's schema
    /// generation, and keep the grammar-constrained arguments within the token budget.</summary>
    private static string Forecast([StringLength(12)] string city, [Range(1, 7)] int days) => $"sunny in {city} for {days} days";

    private static AIFunction WeatherFunction(Delegate body) =>
        AIFunctionFactory.Create(body, "get_weather", "The weather in a city");

    private static ChatOptions ForcedCall(AIFunction function, int maxTokens = 80) => new()
    {
        Tools = [function],
        ToolMode = ChatToolMode.RequireSpecific(function.Name),
        Temperature = 0,
        MaxOutputTokens = maxTokens,
    };

    [SharedFact]
    public async Task A_required_function_comes_back_as_a_call_whose_arguments_satisfy_its_schema_unary_and_streamed_alike()
    {
        var function = WeatherFunction(Forecast);
        Assert.Contains("maxLength", function.JsonSchema.GetRawText()); // the bounds made it into the schema
        using var chat = NewChatClient();

        var unary = await chat.GetResponseAsync(Question, ForcedCall(function));
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Question, ForcedCall(function))) updates.Add(update);
        var streamed = updates.ToChatResponse();

        foreach (var response in new[] { unary, streamed })
        {
            Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
            var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
            Assert.Equal("get_weather", call.Name);
            Assert.StartsWith("call_", call.CallId);
            Assert.Null(call.Exception);
            Assert.Null(SchemaProblem(call.Arguments!, function.JsonSchema));
        }
        var (unaryCall, streamedCall) = (unary.Messages.Single().Contents.OfType<FunctionCallContent>().Single(), streamed.Messages.Single().Contents.OfType<FunctionCallContent>().Single());
        Assert.Equal(ArgumentsJson(unaryCall), ArgumentsJson(streamedCall));
        // The stream brought the call in pieces (the server streams a named call's arguments as they come).
        Assert.True(updates.Count > 3, $"{updates.Count} updates");
    }

    [SharedFact]
    public async Task FunctionInvokingChatClient_runs_the_function_with_the_models_arguments_and_the_server_takes_the_replayed_turns()
    {
        var invocations = new List<(string City, int Days)>();
        var function = WeatherFunction(([StringLength(12)] string city, [Range(1, 7)] int days) =>
        {
            invocations.Add((city, days));
            return Forecast(city, days);
        });
        var recorder = new RecordingChatClient(NewChatClient());
        using var chat = new ChatClientBuilder(recorder).UseFunctionInvocation().Build();

        // FunctionInvokingChatClient sets a required tool mode back to auto after the first round, so the second
        // request (with the call and its result) is answered without being forced into another call.
        var final = await chat.GetResponseAsync(Question, ForcedCall(function, maxTokens: 60));

        Assert.Equal(2, recorder.Responses.Count);
        var call = recorder.Responses[0].Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        Assert.Null(SchemaProblem(call.Arguments!, function.JsonSchema));
        var invocation = Assert.Single(invocations);
        Assert.Equal(((JsonElement)call.Arguments!["city"]!).GetString(), invocation.City);
        Assert.Equal(((JsonElement)call.Arguments["days"]!).GetInt32(), invocation.Days);

        // The second request replays the call and carries the function's result under the call's id.
        var replayed = recorder.Requests[1];
        Assert.Contains(replayed.SelectMany(m => m.Contents).OfType<FunctionCallContent>(), c => c.CallId == call.CallId);
        var result = replayed.Where(m => m.Role == ChatRole.Tool).SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        Assert.Equal(call.CallId, result.CallId);
        Assert.Contains(Forecast(invocation.City, invocation.Days), JsonSerializer.Serialize(result.Result, AIJsonUtilities.DefaultOptions));

        // The server accepted those turns and rendered them into the prompt.
        Assert.DoesNotContain(final.Messages.Last().Contents, c => c is FunctionCallContent);
        Assert.NotEqual(ChatFinishReason.ToolCalls, recorder.Responses[1].FinishReason);
        Assert.True(recorder.PromptTokens[1] > recorder.PromptTokens[0] + 20,
            $"{recorder.PromptTokens[1]} vs {recorder.PromptTokens[0]}: the call and its result are not in the prompt");
        Assert.False(string.IsNullOrEmpty(final.Text));
    }

    [SharedFact]
    public async Task FunctionInvokingChatClient_runs_the_same_loop_over_the_stream()
    {
        var invocations = new List<(string City, int Days)>();
        var function = WeatherFunction(([StringLength(12)] string city, [Range(1, 7)] int days) =>
        {
            invocations.Add((city, days));
            return Forecast(city, days);
        });
        using var chat = new ChatClientBuilder(NewChatClient()).UseFunctionInvocation().Build();

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Question, ForcedCall(function, maxTokens: 60))) updates.Add(update);

        // The call assembled from the stream is the one invoked, its result is handed on under its id, and the
        // second, streamed round (the replayed turns) finishes without another call.
        var call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Null(SchemaProblem(call.Arguments!, function.JsonSchema));
        var invocation = Assert.Single(invocations);
        Assert.Equal(((JsonElement)call.Arguments!["city"]!).GetString(), invocation.City);
        Assert.Equal(call.CallId, Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionResultContent>()).CallId);
        var finishes = updates.Where(u => u.FinishReason is not null).Select(u => u.FinishReason).ToList();
        Assert.Equal(2, finishes.Count);
        Assert.Equal(ChatFinishReason.ToolCalls, finishes[0]);
        Assert.NotEqual(ChatFinishReason.ToolCalls, finishes[1]);
    }

    [SharedFact]
    public async Task A_json_schema_response_format_constrains_the_answer()
    {
        var schema = JsonDocument.Parse("""{"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]}}, "required": ["mood"]}""").RootElement;
        using var chat = NewChatClient();

        var response = await chat.GetResponseAsync(Question, new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "mood"),
            Temperature = 0,
            MaxOutputTokens = 40,
        });

        using var answer = JsonDocument.Parse(response.Text);
        Assert.Contains(answer.RootElement.GetProperty("mood").GetString(), new[] { "happy", "sad" });
        Assert.Single(answer.RootElement.EnumerateObject());
    }

    [SharedFact]
    public async Task TopK_of_one_samples_the_greedy_answer()
    {
        using var chat = NewChatClient();
        Task<ChatResponse> Answer(float temperature, int? topK) =>
            chat.GetResponseAsync(Question, new ChatOptions { Temperature = temperature, TopK = topK, Seed = 11, MaxOutputTokens = 24 });

        var greedy = await Answer(0, null);
        var sampledTopOne = await Answer(1.5f, 1);
        var sampled = await Answer(1.5f, null);

        Assert.Equal(greedy.Text, sampledTopOne.Text);
        Assert.NotEqual(greedy.Text, sampled.Text); // without top_k the same seed and temperature wander off
    }

    private static string ArgumentsJson(FunctionCallContent call) => JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions);

    /// <summary>Checks arguments against the keywords of a generated object schema (required; string maxLength/minLength;
    /// integer minimum/maximum): null when they hold, else the first that does not.</summary>
    private static string? SchemaProblem(IDictionary<string, object?> arguments, JsonElement schema)
    {
        if (schema.TryGetProperty("required", out var required))
            foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
                if (!arguments.ContainsKey(name)) return $"missing {name}";
        var properties = schema.GetProperty("properties");
        foreach (var (name, raw) in arguments)
        {
            if (!properties.TryGetProperty(name, out var property)) return $"unexpected {name}";
            var value = (JsonElement)raw!;
            switch (property.GetProperty("type").GetString())
            {
                case "string":
                    if (value.ValueKind != JsonValueKind.String) return $"{name} is not a string";
                    int length = value.GetString()!.EnumerateRunes().Count();
                    if (property.TryGetProperty("maxLength", out var max) && length > max.GetInt32()) return $"{name} is longer than {max}";
                    if (property.TryGetProperty("minLength", out var min) && length < min.GetInt32()) return $"{name} is shorter than {min}";
                    break;
                case "integer":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long number)) return $"{name} is not an integer";
                    if (property.TryGetProperty("minimum", out var low) && number < low.GetDecimal()) return $"{name} is below {low}";
                    if (property.TryGetProperty("maximum", out var high) && number > high.GetDecimal()) return $"{name} is above {high}";
                    break;
                default:
                    return $"{name}: type {property.GetProperty("type")} is not checked here";
            }
        }
        return null;
    }

    /// <summary>Between FunctionInvokingChatClient and InkwellChatClient: what each round sent and got.</summary>
    private sealed class RecordingChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public List<List<ChatMessage>> Requests { get; } = [];
        public List<ChatResponse> Responses { get; } = [];
        /// <summary>Each round's prompt tokens, read when it came back (FunctionInvokingChatClient later sums
        /// the rounds' usage into the first round's UsageDetails object).</summary>
        public List<long?> PromptTokens { get; } = [];

        public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Requests.Add([.. messages]);
            var response = await base.GetResponseAsync(messages, options, cancellationToken);
            Responses.Add(response);
            PromptTokens.Add(response.Usage?.InputTokenCount);
            return response;
        }
    }
}
