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
        var app = GatewayServer.Build(options, registry);
        var budget = budgetMb is { } b ? $"{b} MiB for local deployments" : "no memory budget";
        Console.Error.WriteLine($"inkwell: gateway over {registry.Models.Count} models, {registry.Deployments.Count} deployments ({budget})");
        Console.Error.WriteLine($"inkwell: serving on http://{options.Hostname}:{options.Port} (/models/{{model}}/generate, /deployments/{{deployment}}/generate, /v1/..., /metrics)");
        await app.RunAsync();
        return 0;
    }
}
