using Inkwell.Server.Gateway;
using Inkwell.Server.Hosting;
using Microsoft.AspNetCore.Builder;

namespace Inkwell.Cli.Commands;

/// <summary>`inkwell serve --registry DIR`: the gateway over every deployment of a registry. The other serve
/// flags become the defaults of the local deployments (their client_spec options override them).</summary>
public static class GatewayCommand
{
    public static async Task<int> RunAsync(string registryDir, long? budgetMb, ServerOptions localDefaults)
    {
        var registry = ModelsCommand.Load(registryDir);
        var options = new GatewayOptions
        {
            Hostname = localDefaults.Hostname,
            Port = localDefaults.Port,
            MemoryBudgetBytes = budgetMb * 1024 * 1024,
            LocalDefaults = localDefaults,
            ApiKey = localDefaults.ApiKey,
            CorsAllowOrigins = localDefaults.CorsAllowOrigins,
        };
        // The gateway logs its own start-up line (JSON with --json-output), once it listens.
        var app = GatewayServer.Build(options, registry);
        await app.RunAsync();
        return 0;
    }
}
