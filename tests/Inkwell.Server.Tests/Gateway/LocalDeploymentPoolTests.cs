using Inkwell.Client;
using Inkwell.Client.Registry;
using Inkwell.Client.Tgi;
using Inkwell.Server.Gateway;
using Inkwell.Server.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inkwell.Server.Tests.Gateway;

public sealed class LocalDeploymentPoolTests
{
    private static readonly ServerOptions Defaults = new() { NumThreads = 1, MaxTotalTokens = 256, MaxBatchTotalTokens = 2048 };

    private static ModelDeployment Local(string name, string? modelPath = null, Dictionary<string, string>? options = null) =>
        new(name, "stories/" + name, new ClientSpec(ClientKind.Local, modelPath ?? GatewayHarness.EmbeddedModel, [], null, new RoutingOptions(), options ?? []),
            null, null, null, null, false);

    [Fact]
    public async Task AnEvictedDeploymentKeepsServingTheRequestThatHoldsItAndStopsWhenItEnds()
    {
        await using var pool = new LocalDeploymentPool(Defaults, budgetBytes: 1, NullLogger.Instance);
        var alpha = await pool.AcquireAsync(Local("alpha"), CancellationToken.None);

        await using (var beta = await pool.AcquireAsync(Local("beta"), CancellationToken.None))
        {
            Assert.Equal(["beta"], pool.Loaded);
            // A client of our own: the instance's client goes with the instance.
            using var probe = new TgiClient(new InferenceClientOptions { BaseAddress = alpha.Instance.Address, MaxAttempts = 1 });
            Assert.True(await probe.HealthAsync(), "evicted while leased: must still answer");
            await alpha.DisposeAsync();
            Assert.False(await probe.HealthAsync(), "last lease returned: must be stopped");
            Assert.True(await beta.Instance.Client.HealthAsync());
        }
    }

    [Fact]
    public async Task ConcurrentFirstRequestsShareOneLoad()
    {
        await using var pool = new LocalDeploymentPool(Defaults, budgetBytes: null, NullLogger.Instance);
        var deployment = Local("alpha");

        var leases = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => pool.AcquireAsync(deployment, CancellationToken.None)));

        Assert.Equal(1, pool.LoadCount);
        Assert.Single(leases.Select(l => l.Instance).Distinct());
        foreach (var lease in leases) await lease.DisposeAsync();
    }

    [Fact]
    public async Task CostCountsWeightsAndTheKvCache()
    {
        await using var pool = new LocalDeploymentPool(Defaults, budgetBytes: null, NullLogger.Instance);
        await using var lease = await pool.AcquireAsync(Local("alpha"), CancellationToken.None);

        // stories260K: 5 layers, 4 KV heads of 8 dims (its config.json); K and V in f32 for 2048 tokens.
        long kv = 2L * 5 * (4 * 8) * sizeof(float) * 2048;
        long weights = lease.Instance.CostBytes - kv;
        // f32 weights of a ~260K-parameter model: about 1 MB, less than the file that holds them.
        Assert.InRange(weights, 900_000, new FileInfo(GatewayHarness.EmbeddedModel).Length);
        Assert.Equal(lease.Instance.CostBytes, pool.LoadedBytes);
    }

    [Fact]
    public async Task AFailedLoadIsReportedAndNotCached()
    {
        await using var pool = new LocalDeploymentPool(Defaults, budgetBytes: null, NullLogger.Instance);
        var missing = Local("missing", modelPath: "/nonexistent/model.gguf");

        await Assert.ThrowsAnyAsync<Exception>(() => pool.AcquireAsync(missing, CancellationToken.None));
        Assert.Empty(pool.Loaded);
        await Assert.ThrowsAnyAsync<Exception>(() => pool.AcquireAsync(missing, CancellationToken.None));
    }

    [Fact]
    public void EngineOptionsOverrideTheDefaultsAndUnknownOnesAreRejected()
    {
        var options = LocalDeployment.OptionsFor(Local("alpha", options: new() { ["max_total_tokens"] = "128", ["threads"] = "3" }), Defaults);
        Assert.Equal(128, options.MaxTotalTokens);
        Assert.Equal(3, options.NumThreads);
        Assert.Equal("stories/alpha", options.ModelId);
        Assert.Equal("127.0.0.1", options.Hostname);

        var ex = Assert.Throws<ArgumentException>(() => LocalDeployment.OptionsFor(Local("alpha", options: new() { ["max_totl_tokens"] = "128" }), Defaults));
        Assert.Contains("max_totl_tokens", ex.Message);
    }
}
