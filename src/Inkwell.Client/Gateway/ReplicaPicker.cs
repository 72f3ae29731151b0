using Inkwell.Client.Registry;

namespace Inkwell.Client.Gateway;

/// <summary>
/// Picks a replica for one attempt under a routing policy. Candidates are the healthy replicas not yet tried by
/// this request; when none is healthy, the ejected ones not yet tried (a guess beats a certain 503).
/// Prefix affinity (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2018): the key's home
/// is the first candidate clockwise on a ring of virtual nodes; it takes the request while its load is under
/// ceil(c * (total load + 1) / candidates); otherwise the request spills to the least loaded candidate (ties in
/// ring order, so a hot prefix spills to the same second home). Loads are this gateway's requests in flight.
/// </summary>
internal sealed class ReplicaPicker(RoutingOptions routing)
{
    /// <summary>Virtual nodes per replica: enough that three replicas split the ring within a few percent.</summary>
    internal const int VirtualNodes = 160;

    private int _cursor = -1;
    private (ulong Hash, Replica Replica)[] _ring = [];

    public RoutingOptions Routing { get; } = routing;

    /// <summary>Rebuilds the ring for a new replica list (discovery); replicas kept keep their points.</summary>
    public void SetReplicas(IReadOnlyList<Replica> replicas)
    {
        var ring = new (ulong, Replica)[replicas.Count * VirtualNodes];
        int i = 0;
        foreach (var replica in replicas)
            for (int v = 0; v < VirtualNodes; v++)
                ring[i++] = (StableHash.Of($"{replica.BaseAddress.AbsoluteUri}#{v}"), replica);
        Array.Sort(ring, (a, b) => a.Item1.CompareTo(b.Item1));
        Volatile.Write(ref _ring, ring);
    }

    public Replica? Pick(IReadOnlyList<Replica> replicas, string? affinityKey, IReadOnlyCollection<Replica> tried)
    {
        var candidates = replicas.Where(r => r.IsHealthy && !tried.Contains(r)).ToList();
        if (candidates.Count == 0) candidates = replicas.Where(r => !tried.Contains(r)).ToList();
        if (candidates.Count == 0) return null;
        var turn = (uint)Interlocked.Increment(ref _cursor);
        return Routing.Policy switch
        {
            RoutingPolicy.RoundRobin => candidates[(int)(turn % (uint)candidates.Count)],
            RoutingPolicy.PrefixAffinity when affinityKey is not null => ByAffinity(candidates, affinityKey),
            _ => LeastLoaded(candidates, (int)(turn % (uint)candidates.Count)),
        };
    }

    /// <summary>The candidate with the fewest requests in flight, scanning from <paramref name="start"/> so ties rotate.</summary>
    private static Replica LeastLoaded(List<Replica> candidates, int start)
    {
        var best = candidates[start];
        for (int i = 1; i < candidates.Count; i++)
        {
            var next = candidates[(start + i) % candidates.Count];
            if (next.Outstanding < best.Outstanding) best = next;
        }
        return best;
    }

    private Replica ByAffinity(List<Replica> candidates, string key)
    {
        var ring = Volatile.Read(ref _ring);
        var inRingOrder = RingOrder(ring, StableHash.Of(key), candidates);
        var home = inRingOrder[0];
        long total = candidates.Sum(r => (long)r.Outstanding);
        var capacity = (long)Math.Ceiling(Routing.LoadFactor * (total + 1) / candidates.Count);
        return home.Outstanding < capacity ? home : LeastLoaded(inRingOrder, 0);
    }

    /// <summary>The candidates in the order their first virtual node follows <paramref name="hash"/> on the ring.</summary>
    private static List<Replica> RingOrder((ulong Hash, Replica Replica)[] ring, ulong hash, List<Replica> candidates)
    {
        var order = new List<Replica>(candidates.Count);
        int lo = 0, hi = ring.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (ring[mid].Hash < hash) lo = mid + 1; else hi = mid;
        }
        for (int i = 0; i < ring.Length && order.Count < candidates.Count; i++)
        {
            var replica = ring[(lo + i) % ring.Length].Replica;
            if (candidates.Contains(replica) && !order.Contains(replica)) order.Add(replica);
        }
        // A replica discovered between the ring's rebuild and this pick is not on it yet: last in line.
        order.AddRange(candidates.Where(c => !order.Contains(c)));
        return order;
    }
}

/// <summary>A 64-bit hash that is the same in every process (string.GetHashCode is randomized per process, and a
/// restarted gateway must send a prefix where it went before): FNV-1a over UTF-16 code units, then SplitMix64's
/// finalizer so nearby keys spread over the whole ring.</summary>
internal static class StableHash
{
    public static ulong Of(ReadOnlySpan<char> text)
    {
        ulong h = 14695981039346656037UL;
        foreach (var c in text)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebUL;
        return h ^ (h >> 31);
    }
}
