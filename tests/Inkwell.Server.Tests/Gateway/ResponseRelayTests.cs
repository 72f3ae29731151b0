using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json.Nodes;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>The gateway's relay of an event stream whose upstream dies part way.</summary>
public sealed class ResponseRelayTests
{
    private const string Metadata = """
        models:
          - name: echo/chat
        """;

    [Fact]
    public async Task UpstreamDyingMidStream_EndsTheRelayedEventsWithAnErrorEvent()
    {
        await using var upstream = await FakeOpenAIUpstream.StartAsync(dieAfterFirstChunk: true);
        await using var gateway = await GatewayHarness.StartAsync(Metadata, $$"""
            model_deployments:
              - name: echo/chat
                model_name: echo/chat
                client_spec: {kind: openai, url: "{{upstream.Address}}"}
            """);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "echo/chat", stream = true, messages = new[] { new { role = "user", content = "hi" } } }),
        };
        using var response = await gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());

        // The upstream dies once the first event has come through the gateway.
        var events = new List<string>();
        await foreach (var item in SseParser.Create(await response.Content.ReadAsStreamAsync()).EnumerateAsync())
        {
            events.Add(item.Data);
            upstream.ReleaseSecondChunk.TrySetResult();
        }

        Assert.Equal(2, events.Count);
        Assert.Equal("Hel", JsonNode.Parse(events[0])!["choices"]![0]!["delta"]!["content"]!.GetValue<string>());
        var error = JsonNode.Parse(events[1])!;
        Assert.StartsWith("Deployment 'echo/chat' stopped answering mid-response", error["error"]!.GetValue<string>());
        Assert.Equal("unhealthy", error["error_type"]!.GetValue<string>());
    }
}
