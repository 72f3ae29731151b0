using Inkwell.Client.Registry;
using Inkwell.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Gateway;

/// <summary>
/// Local deployments, started on first use and kept while the memory budget allows. Making room unloads the
/// least recently used ones that are not the one being loaded. A request holds a lease for as long as it
/// runs (streams included); an unloaded deployment with leases out stops only when the last one is returned,
/// so eviction never cuts a request short (memory is over budget until then). Loads run one at a time, so
/// two loads never both count on the same free memory.
/// </summary>
internal sealed class LocalDeploymentPool(ServerOptions defaults, long? budgetBytes, ILogger logger) : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private long _clock;
    private long _loadedBytes;
    private int _loads;
    private int _evictions;

    /// <summary>Names of the deployments started and not unloaded, least recently used first.</summary>
    public IReadOnlyList<string> Loaded
    {
        get
        {
            lock (_lock)
                return _entries.Values.Where(e => e.Instance is not null).OrderBy(e => e.LastUsed).Select(e => e.Deployment.Name).ToList();
        }
    }

    public long LoadedBytes => Interlocked.Read(ref _loadedBytes);
    public int LoadCount => Volatile.Read(ref _loads);
    public int EvictionCount => Volatile.Read(ref _evictions);

    /// <summary>The deployment's running instance (started if needed), held until the lease is disposed.</summary>
    public async Task<Lease> AcquireAsync(ModelDeployment deployment, CancellationToken ct)
    {
        Entry entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(deployment.Name, out entry!))
            {
                entry = new Entry(deployment);
                _entries[deployment.Name] = entry;
                // Not tied to the first caller's token: other requests may be waiting on the same load.
                entry.Ready = Task.Run(() => LoadAsync(entry), CancellationToken.None);
            }
            entry.Leases++;
            entry.LastUsed = ++_clock;
        }
        try
        {
            var instance = await entry.Ready!.WaitAsync(ct);
            return new Lease(this, entry, instance);
        }
        catch
        {
            await ReleaseAsync(entry);
            throw;
        }
    }

    private async Task<LocalDeployment> LoadAsync(Entry entry)
    {
        await _loadGate.WaitAsync();
        try
        {
            var (model, options, cost) = LocalDeployment.Open(entry.Deployment, defaults);
            try
            {
                await MakeRoomAsync(entry, cost);
                var instance = await LocalDeployment.StartAsync(entry.Deployment, model, options, cost);
                lock (_lock)
                {
                    entry.Instance = instance;
                    _loadedBytes += cost;
                }
                Interlocked.Increment(ref _loads);
                logger.LogInformation("Loaded local deployment '{Deployment}' ({MiB:F1} MiB) at {Address}", entry.Deployment.Name, cost / 1048576.0, instance.Address);
                return instance;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        catch
        {
            // A failed load is not cached: the next request tries again (the file may have been fixed).
            lock (_lock)
                if (_entries.TryGetValue(entry.Deployment.Name, out var current) && current == entry) _entries.Remove(entry.Deployment.Name);
            throw;
        }
        finally
        {
            _loadGate.Release();
        }
    }

    private async Task MakeRoomAsync(Entry loading, long cost)
    {
        if (budgetBytes is not { } budget) return;
        var stopNow = new List<LocalDeployment>();
        lock (_lock)
        {
            while (_loadedBytes + cost > budget)
            {
                var victim = _entries.Values.Where(e => e != loading && e.Instance is not null).MinBy(e => e.LastUsed);
                if (victim is null) break;
                _entries.Remove(victim.Deployment.Name);
                _loadedBytes -= victim.Instance!.CostBytes;
                victim.Evicted = true;
                _evictions++;
                logger.LogWarning("Unloading local deployment '{Deployment}' (least recently used) to fit '{New}' in the {Budget} MiB budget",
                    victim.Deployment.Name, loading.Deployment.Name, budget / 1048576);
                if (victim.Leases == 0) stopNow.Add(victim.Instance);
            }
            if (_loadedBytes + cost > budget)
                logger.LogWarning("Local deployment '{Deployment}' needs {Need:F1} MiB, more than the {Budget} MiB budget leaves; loading it anyway",
                    loading.Deployment.Name, cost / 1048576.0, budget / 1048576);
        }
        foreach (var instance in stopNow) await instance.DisposeAsync();
    }

    private async ValueTask ReleaseAsync(Entry entry)
    {
        LocalDeployment? stop = null;
        lock (_lock)
        {
            entry.Leases--;
            entry.LastUsed = ++_clock;
            if (entry.Evicted && entry.Leases == 0) stop = entry.Instance;
        }
        if (stop is not null) await stop.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        List<Entry> all;
        lock (_lock)
        {
            all = _entries.Values.ToList();
            _entries.Clear();
        }
        foreach (var entry in all)
        {
            try { await (await entry.Ready!).DisposeAsync(); }
            catch (Exception e) when (e is not OutOfMemoryException) { /* failed load: nothing to stop */ }
        }
    }

    internal sealed class Entry(ModelDeployment deployment)
    {
        public ModelDeployment Deployment { get; } = deployment;
        public Task<LocalDeployment>? Ready { get; set; }
        public LocalDeployment? Instance { get; set; }
        public int Leases { get; set; }
        public long LastUsed { get; set; }
        public bool Evicted { get; set; }
    }

    /// <summary>Keeps a deployment's instance running while a request uses it.</summary>
    public sealed class Lease(LocalDeploymentPool pool, Entry entry, LocalDeployment instance) : IAsyncDisposable
    {
        private int _released;
        public LocalDeployment Instance { get; } = instance;

        public ValueTask DisposeAsync() =>
            Interlocked.Exchange(ref _released, 1) == 0 ? pool.ReleaseAsync(entry) : ValueTask.CompletedTask;
    }
}
