using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static Inkwell.Client.Tests.Fakes.FakeInferenceServer;

namespace Inkwell.Client.Tests.OpenAI;

/// <summary>OpenAI routes as TGI serves them, with fixed answers; request bodies are kept for inspection.</summary>
internal sealed class OpenAIFakeRoutes
{
    public ConcurrentQueue<JsonElement> Requests { get; } = new();

    public void Map(WebApplication app)
    {
        app.MapPost("/v1/chat/completions", async context =>
        {
            var body = await ReadJsonAsync(context);
            Requests.Enqueue(body);
            if (body.TryGetProperty("stream", out var stream) && stream.GetBoolean())
            {
                await WriteSseChunksAsync(context,
                    ChatChunk("""{"role":"assistant","content":"Hel"}""", "null") + ChatChunk("""{"content":"lo"}""", "null"),
                    ChatChunk("""{"content":"!"}""", "\"stop\""),
                    "data: [DONE]\n\n",
                    ChatChunk("""{"content":"after done"}""", "null")); // must be ignored
                return;
            }
            await WriteJsonAsync(context, """
                {"id":"chatcmpl-1","object":"chat.completion","created":1732233600,"model":"acme/tiny","system_fingerprint":"0.1.0-native",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"logprobs":null,"finish_reason":"length"}],
                 "usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}
                """);
        });
        app.MapPost("/v1/completions", async context =>
        {
            var body = await ReadJsonAsync(context);
            Requests.Enqueue(body);
            if (body.TryGetProperty("stream", out var stream) && stream.GetBoolean())
            {
                await WriteSseChunksAsync(context, CompletionEvent(" upon", "null"), CompletionEvent(" a time", "\"length\""), "data: [DONE]\n\n");
                return;
            }
            await WriteJsonAsync(context, """
                {"id":"cmpl-1","object":"text_completion","created":1732233600,"model":"acme/tiny","system_fingerprint":"0.1.0-native",
                 "choices":[{"index":0,"text":" upon a time","logprobs":null,"finish_reason":"length"}],
                 "usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}
                """);
        });
        app.MapGet("/v1/models", context => WriteJsonAsync(context, """
            {"object":"list","data":[{"id":"acme/tiny","object":"model","created":1732233600,"owned_by":"acme"}]}
            """));
    }

    private static string ChatChunk(string delta, string finishReason) =>
        $$"""data: {"id":"chatcmpl-2","object":"chat.completion.chunk","created":1732233600,"model":"acme/tiny","system_fingerprint":"0.1.0-native","choices":[{"index":0,"delta":{{delta}},"logprobs":null,"finish_reason":{{finishReason}}}],"usage":null}""" + "\n\n";

    private static string CompletionEvent(string text, string finishReason) =>
        $$"""data: {"id":"cmpl-2","object":"text_completion","created":1732233600,"model":"acme/tiny","system_fingerprint":"0.1.0-native","choices":[{"index":0,"text":"{{text}}","logprobs":null,"finish_reason":{{finishReason}}}]}""" + "\n\n";
}
