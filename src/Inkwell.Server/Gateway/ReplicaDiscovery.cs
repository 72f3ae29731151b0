using System.Net;
using DnsClient;
using Inkwell.Client.Gateway;
using Inkwell.Client.Registry;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Gateway;

/// <summary>
/// Keeps the replica list of every deployment that names a Kubernetes Service current. With API access (in a pod,
/// or a configuration given): the Service's EndpointSlices (label kubernetes.io/service-name), listed then watched,
/// ready endpoints only, re-listed after a watch ends or fails. Without: the A records of the Service's cluster DNS
/// name, which for a headless Service are its ready pods, polled. A failed lookup keeps the last known replicas.
/// </summary>
internal sealed class ReplicaDiscovery : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly ILogger _logger;
    private readonly DiscoveryOptions _options;

    public ReplicaDiscovery(InferenceGateway router, DiscoveryOptions options, ILogger logger)
    {
        _logger = logger;
        _options = options;
        var kubernetes = options.Kubernetes ?? InClusterConfiguration();
        foreach (var deployment in router.Registry.Deployments)
        {
            if (deployment.ClientSpec.Service is not { } service) continue;
            var replicas = router.ReplicasOf(deployment.Name)!;
            _loops.Add(Task.Run(() => kubernetes is not null
                ? WatchEndpointSlicesAsync(kubernetes, service, replicas, _stop.Token)
                : PollDnsAsync(service, replicas, _stop.Token)));
        }
    }

    private static KubernetesClientConfiguration? InClusterConfiguration() =>
        Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is { Length: > 0 } && File.Exists("/var/run/secrets/kubernetes.io/serviceaccount/token")
            ? KubernetesClientConfiguration.InClusterConfig()
            : null;

    private async Task WatchEndpointSlicesAsync(KubernetesClientConfiguration configuration, ServiceReference service, ReplicaSet replicas, CancellationToken ct)
    {
        using var client = new Kubernetes(configuration);
        var selector = $"kubernetes.io/service-name={service.Name}";
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var slices = new Dictionary<string, List<Uri>>(StringComparer.Ordinal);
                var list = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync(service.Namespace, labelSelector: selector, cancellationToken: ct);
                foreach (var slice in list.Items) slices[slice.Metadata.Name] = ReadyEndpoints(slice, service);
                Publish(replicas, service, slices);
                await foreach (var (type, slice) in client.DiscoveryV1.WatchListNamespacedEndpointSliceAsync(service.Namespace,
                    labelSelector: selector, resourceVersion: list.Metadata.ResourceVersion, cancellationToken: ct))
                {
                    if (type == WatchEventType.Deleted) slices.Remove(slice.Metadata.Name);
                    else if (type is WatchEventType.Added or WatchEventType.Modified) slices[slice.Metadata.Name] = ReadyEndpoints(slice, service);
                    else continue;
                    Publish(replicas, service, slices);
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("Deployment '{Deployment}': watching the EndpointSlices of {Service} failed ({Error}); listing again in {Seconds} s",
                    replicas.Name, service, e.Message, _options.RetryDelay.TotalSeconds);
            }
            await DelayAsync(_options.RetryDelay, ct);
        }
    }

    /// <summary>The slice's ready endpoints on the Service's port (the slice's port of that number, or its only port).</summary>
    internal static List<Uri> ReadyEndpoints(V1EndpointSlice slice, ServiceReference service)
    {
        var ports = slice.Ports ?? [];
        var port = ports.FirstOrDefault(p => p.Port == service.Port) ?? (ports.Count == 1 ? ports[0] : null);
        if (port?.Port is not { } number) return [];
        return (slice.Endpoints ?? [])
            .Where(e => e.Conditions?.Ready != false)
            .SelectMany(e => e.Addresses ?? [])
            .Select(address => Endpoint(service.Scheme, address, number))
            .ToList();
    }

    private static Uri Endpoint(string scheme, string address, int port) =>
        new($"{scheme}://{(IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address)}:{port}/");

    private void Publish(ReplicaSet replicas, ServiceReference service, Dictionary<string, List<Uri>> slices)
    {
        var all = slices.Values.SelectMany(u => u).Distinct().ToList();
        var before = replicas.Replicas.Select(r => r.BaseAddress).ToHashSet();
        if (before.SetEquals(all)) return;
        replicas.SetReplicas(all);
        _logger.LogInformation("Deployment '{Deployment}': {Service} has {Count} ready replica(s): {Replicas}",
            replicas.Name, service, all.Count, string.Join(", ", all));
    }

    private async Task PollDnsAsync(ServiceReference service, ReplicaSet replicas, CancellationToken ct)
    {
        var lookup = _options.DnsServer is { } server ? new LookupClient(server) : new LookupClient();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var answer = await lookup.QueryAsync(service.DnsName, QueryType.A, cancellationToken: ct);
                // NXDOMAIN: a headless Service without ready pods has no records; any other error keeps what we had.
                if (!answer.HasError || answer.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
                    Publish(replicas, service, new(StringComparer.Ordinal)
                    {
                        ["dns"] = answer.Answers.ARecords().Select(a => Endpoint(service.Scheme, a.Address.ToString(), service.Port)).ToList(),
                    });
                else
                    _logger.LogWarning("Deployment '{Deployment}': DNS lookup of {Name} failed: {Error}", replicas.Name, service.DnsName, answer.ErrorMessage);
            }
            catch (DnsResponseException e) when (!ct.IsCancellationRequested)
            {
                _logger.LogWarning("Deployment '{Deployment}': DNS lookup of {Name} failed: {Error}", replicas.Name, service.DnsName, e.Message);
            }
            await DelayAsync(_options.DnsInterval, ct);
        }
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, ct); }
        catch (OperationCanceledException) { /* stopping */ }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync();
        try { await Task.WhenAll(_loops); }
        catch (OperationCanceledException) { /* stopped */ }
        _stop.Dispose();
    }
}

/// <summary>How Service deployments find their replicas.</summary>
public sealed record DiscoveryOptions
{
    /// <summary>The Kubernetes API to watch EndpointSlices with; null: the in-cluster service account when running in
    /// a pod, else DNS.</summary>
    public KubernetesClientConfiguration? Kubernetes { get; init; }

    /// <summary>The DNS server for headless Service lookups; null: the system's.</summary>
    public IPEndPoint? DnsServer { get; init; }

    public TimeSpan DnsInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Wait before listing again after a watch ends or fails.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);
}
