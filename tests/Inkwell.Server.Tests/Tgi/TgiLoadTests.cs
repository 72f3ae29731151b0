using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Hosting;

namespace Inkwell.Server.Tests.Tgi;

/// <summary>Permits, cancellation and a tiny KV pool, each on its own server.</summary>
public class TgiLoadTests
{
    [Fact]
    public async Task Requests_beyond_the_permit_limit_get_429()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxConcurrentRequests = 2 });
        var slow = Enumerable.Range(0, 2).Select(_ => server.Client.PostAsJsonAsync("/generate", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 400 } })).ToList();
        for (int i = 0; i < 200 && server.State.Service.InFlight < 2; i++) await Task.Delay(10);
        var refused = await server.Client.PostAsJsonAsync("/generate", new { inputs = "Hi", parameters = new { max_new_tokens = 2 } });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var json = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
        Assert.Equal("Model is overloaded", json["error"]!.GetValue<string>());
        Assert.Equal("overloaded", json["error_type"]!.GetValue<string>());
        Assert.All(await Task.WhenAll(slow), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
    }

    [Fact]
    public async Task A_client_hang_up_cancels_the_request_and_frees_its_blocks()
    {
        await using var server = await TestServer.StartAsync();
        var pool = server.State.Service.Engine.BlockPool;
        using var cts = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "/generate_stream") { Content = JsonContent.Create(new { inputs = "Once upon a time", parameters = new { max_new_tokens = 1500 } }) };
        var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        await stream.ReadAtLeastAsync(new byte[64], 8, cancellationToken: cts.Token);  // generation has started
        Assert.True(pool.FreeBlockCount < pool.BlockCount);
        cts.Cancel();
        response.Dispose();
        for (int i = 0; i < 300 && (pool.FreeBlockCount != pool.BlockCount || server.State.Service.InFlight != 0); i++) await Task.Delay(10);
        Assert.Equal(pool.BlockCount, pool.FreeBlockCount);
        Assert.Equal(0, server.State.Service.InFlight);
    }

    [Fact]
    public async Task A_tiny_kv_pool_completes_every_concurrent_request()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { MaxTotalTokens = 128, MaxBatchTotalTokens = 160, BlockSize = 8 });
        var runs = Enumerable.Range(0, 6).Select(i => server.Client.PostAsJsonAsync("/generate",
            new { inputs = "Once upon a time", parameters = new { max_new_tokens = 100, do_sample = true, seed = i } })).ToList();
        var responses = await Task.WhenAll(runs);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.True(server.State.Service.Engine.Stats.Preemptions > 0);
    }
}
