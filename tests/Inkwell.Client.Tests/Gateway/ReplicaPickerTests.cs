using Inkwell.Client.Gateway;
using Inkwell.Client.Registry;

namespace Inkwell.Client.Tests.Gateway;

/// <summary>The routing policies' defining properties, over replicas whose loads the test sets.</summary>
public class ReplicaPickerTests
{
    private static List<Replica> Replicas(int count) =>
        Enumerable.Range(0, count).Select(i => new Replica(new Uri($"http://replica-{i}:3000/"))).ToList();

    private static ReplicaPicker Picker(RoutingPolicy policy, List<Replica> replicas, double loadFactor = 1.25)
    {
        var picker = new ReplicaPicker(new RoutingOptions(policy, 512, loadFactor));
        picker.SetReplicas(replicas);
        return picker;
    }

    [Fact]
    public void RoundRobinTakesEachReplicaInTurn()
    {
        var replicas = Replicas(3);
        var picker = Picker(RoutingPolicy.RoundRobin, replicas);
        var picks = Enumerable.Range(0, 9).Select(_ => picker.Pick(replicas, null, [])!).ToList();
        Assert.All(replicas, r => Assert.Equal(3, picks.Count(p => p == r)));
        Assert.Equal(picks[..3], picks[3..6]);
    }

    [Fact]
    public void LeastOutstandingTakesTheLeastLoadedAndSkipsTriedAndEjectedOnes()
    {
        var replicas = Replicas(3);
        var picker = Picker(RoutingPolicy.LeastOutstanding, replicas);
        replicas[0].Begin();
        replicas[0].Begin();
        replicas[1].Begin();
        Assert.Same(replicas[2], picker.Pick(replicas, null, []));
        Assert.Same(replicas[1], picker.Pick(replicas, null, [replicas[2]]));
        replicas[1].Fail(failuresToEject: 1, countAsRequestFailure: true);
        Assert.Same(replicas[0], picker.Pick(replicas, null, [replicas[2]]));
        // Every candidate tried: nothing left for this request.
        Assert.Null(picker.Pick(replicas, null, replicas));
    }

    [Fact]
    public void WhenEveryReplicaIsEjectedTheEjectedOnesAreStillTried()
    {
        var replicas = Replicas(2);
        var picker = Picker(RoutingPolicy.LeastOutstanding, replicas);
        foreach (var replica in replicas) replica.Fail(failuresToEject: 1, countAsRequestFailure: true);
        Assert.NotNull(picker.Pick(replicas, null, []));
    }

    [Fact]
    public void PrefixAffinitySendsAKeyToOneHomeAndSpreadsDistinctKeys()
    {
        var replicas = Replicas(3);
        var picker = Picker(RoutingPolicy.PrefixAffinity, replicas);
        var keys = Enumerable.Range(0, 64).Select(i => $"You are assistant number {i}. Answer briefly.").ToList();
        var homes = keys.ToDictionary(k => k, k => picker.Pick(replicas, k, [])!);
        foreach (var key in keys)
            for (int again = 0; again < 3; again++) Assert.Same(homes[key], picker.Pick(replicas, key, []));
        // 160 virtual nodes each: no replica is home to fewer than a sixth of 64 keys (an even split is 21).
        Assert.All(replicas, r => Assert.True(homes.Values.Count(h => h == r) >= 11, $"{r} is home to {homes.Values.Count(h => h == r)} keys"));
    }

    [Fact]
    public void PrefixAffinityKeepsHomesWhenAReplicaLeaves()
    {
        var replicas = Replicas(3);
        var picker = Picker(RoutingPolicy.PrefixAffinity, replicas);
        var keys = Enumerable.Range(0, 64).Select(i => $"system prompt {i}").ToList();
        var before = keys.ToDictionary(k => k, k => picker.Pick(replicas, k, [])!);
        var remaining = replicas.Take(2).ToList();
        picker.SetReplicas(remaining);
        // Consistent hashing: only the keys of the replica that left move.
        foreach (var key in keys.Where(k => before[k] != replicas[2]))
            Assert.Same(before[key], picker.Pick(remaining, key, []));
    }

    [Fact]
    public void PrefixAffinitySpillsToTheLeastLoadedWhenTheHomeIsOverItsBound()
    {
        var replicas = Replicas(3);
        var picker = Picker(RoutingPolicy.PrefixAffinity, replicas, loadFactor: 1.25);
        const string key = "a hot system prompt";
        var home = picker.Pick(replicas, key, [])!;
        // Home at 2, others idle: bound = ceil(1.25 * (2 + 1) / 3) = 2, so the home is full.
        home.Begin();
        home.Begin();
        var spill = picker.Pick(replicas, key, [])!;
        Assert.NotSame(home, spill);
        Assert.Equal(0, spill.Outstanding);
        // The same spill target every time (ties in ring order), so the hot prefix warms one second replica.
        Assert.Same(spill, picker.Pick(replicas, key, []));
        home.End();
        home.End();
        Assert.Same(home, picker.Pick(replicas, key, [])); // idle again: home again
    }
}
