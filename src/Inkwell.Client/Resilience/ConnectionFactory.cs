using System.Net;
using System.Net.Sockets;

namespace Inkwell.Client.Resilience;

/// <summary>Thrown inside the connect callback when a host name does not resolve (in time).</summary>
internal sealed class NameResolutionException(string host, string reason, Exception? inner = null)
    : Exception($"Could not resolve host '{host}': {reason}", inner)
{
    public string Host { get; } = host;
}

/// <summary>Creates the HTTP handler: no stale pooled connections, and name resolution under a hard timeout
/// so an unresolvable host fails fast instead of hanging in the resolver.</summary>
internal static class ConnectionFactory
{
    public static SocketsHttpHandler CreateHandler(InferenceClientOptions options) => new()
    {
        PooledConnectionLifetime = options.PooledConnectionLifetime,
        PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
        ConnectTimeout = options.DnsTimeout + options.ConnectTimeout,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectCallback = (context, cancellationToken) => ConnectAsync(context.DnsEndPoint, options, cancellationToken),
    };

    internal static async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, InferenceClientOptions options, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(endPoint.Host, options.DnsTimeout, options.HostResolver, cancellationToken).ConfigureAwait(false);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var connectCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectCts.CancelAfter(options.ConnectTimeout);
            await socket.ConnectAsync(addresses, endPoint.Port, connectCts.Token).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static async Task<IPAddress[]> ResolveAsync(
        string host, TimeSpan dnsTimeout, Func<string, CancellationToken, Task<IPAddress[]>>? resolver, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var literal)) return [literal];
        using var dnsCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        dnsCts.CancelAfter(dnsTimeout);
        try
        {
            // WaitAsync as well: resolvers that ignore cancellation must not hold us past the timeout.
            var lookup = resolver is null ? Dns.GetHostAddressesAsync(host, dnsCts.Token) : resolver(host, dnsCts.Token);
            var addresses = await lookup.WaitAsync(dnsCts.Token).ConfigureAwait(false);
            if (addresses.Length == 0) throw new NameResolutionException(host, "no addresses returned");
            return addresses;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NameResolutionException(host, $"no answer within DnsTimeout {dnsTimeout.TotalSeconds:0.###}s");
        }
        catch (SocketException ex)
        {
            throw new NameResolutionException(host, ex.Message, ex);
        }
    }
}
