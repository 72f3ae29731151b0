using Inkwell.Client.Gateway;
using Inkwell.Server.Hosting;

namespace Inkwell.Server.Gateway;

/// <summary>How `inkwell serve --registry DIR` runs: where it listens, the defaults for local deployments,
/// the memory they may share, and how remote deployments' replicas are treated.</summary>
public sealed record GatewayOptions
{
    public string Hostname { get; init; } = "0.0.0.0";
    public int Port { get; init; } = 3000;
    /// <summary>--api-key for the gateway's own routes (Bearer, as the single server's); null leaves them open.</summary>
    public string? ApiKey { get; init; }
    /// <summary>--cors-allow-origin for the gateway's routes.</summary>
    public IReadOnlyList<string> CorsAllowOrigins { get; init; } = [];

    /// <summary>Weights plus KV cache bytes that loaded local deployments may take together; when a load would
    /// exceed it, the least recently used idle ones are unloaded first. Null: no limit.</summary>
    public long? MemoryBudgetBytes { get; init; }

    /// <summary>The server options each local deployment starts from; its client_spec engine options
    /// (max_total_tokens, num_threads, ...) override them. Hostname and Port are ignored (loopback, any port). Its
    /// telemetry (JsonOutput, OtlpEndpoint, OtlpProtocol, OtlpServiceName) is the whole process's: the gateway's host
    /// sets it up once, for itself and the local deployments.</summary>
    public ServerOptions LocalDefaults { get; init; } = new();

    /// <summary>How remote deployments' replicas are probed, ejected, re-admitted and retried.</summary>
    public ReplicaSetOptions Replicas { get; init; } = new();

    /// <summary>How deployments that name a Kubernetes Service discover their replicas.</summary>
    public DiscoveryOptions Discovery { get; init; } = new();
}
