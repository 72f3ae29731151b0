namespace Inkwell.Engine.Grammar;

/// <summary>
/// Compiles each (spec, vocabulary) once, on the thread pool, and keeps the most recently used results within a count
/// and a byte budget (LRU). Concurrent requests for the same grammar share one compile, which runs while anyone still
/// waits for it: when the last waiter's token is cancelled (its request answered, timed out or hung up) the compile is
/// cancelled too. At most MaxConcurrentCompiles run at once (each bounded by <see cref="GrammarLimits"/>), so memory
/// stays bounded under a flood of distinct grammars. Invalid grammars stay cached (they are invalid every time);
/// timed-out or cancelled compiles are dropped.
/// </summary>
public sealed class GrammarCache
{
    // What a cached failure is charged: its message and the entry.
    private const long FailureBytes = 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<(GrammarSpec Spec, TokenVocabulary Vocab), LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _lru = new();
    private readonly GrammarLimits _limits;
    private readonly SemaphoreSlim _slots;
    private long _bytes;

    public GrammarCache(int capacity = 128, GrammarLimits? limits = null, long maxBytes = 512L << 20, int maxConcurrentCompiles = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxConcurrentCompiles);
        Capacity = capacity;
        MaxBytes = maxBytes;
        _limits = limits ?? GrammarLimits.Default;
        int slots = maxConcurrentCompiles > 0 ? maxConcurrentCompiles : Math.Max(1, Environment.ProcessorCount / 2);
        _slots = new SemaphoreSlim(slots, slots);
    }

    public int Capacity { get; }

    /// <summary>Most bytes the finished automata in the cache may hold together (<see cref="TokenAutomaton.MemoryBytes"/>).</summary>
    public long MaxBytes { get; }

    public int Count
    {
        get { lock (_gate) return _entries.Count; }
    }

    /// <summary>Bytes held by the finished entries.</summary>
    public long Bytes
    {
        get { lock (_gate) return _bytes; }
    }

    public Task<TokenAutomaton> GetOrCompileAsync(GrammarSpec spec, TokenVocabulary vocabulary, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (ct.IsCancellationRequested) return Task.FromCanceled<TokenAutomaton>(ct);
        var key = (spec, vocabulary);
        Entry entry;
        bool created = false;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                entry = node.Value;
            }
            else
            {
                entry = new Entry(key);
                // Starts it without running it here: the compile itself goes to the thread pool.
                entry.Task = CompileAsync(entry);
                _entries[key] = _lru.AddFirst(entry);
                EvictOverflow();
                created = true;
            }
            entry.Waiters++;
        }
        // Registered outside the lock: a compile that already finished runs this continuation inline.
        if (created)
            _ = entry.Task!.ContinueWith(t => Settle(entry, t), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return WaitAsync(entry, ct);
    }

    private async Task<TokenAutomaton> CompileAsync(Entry entry)
    {
        var ct = entry.Cancel.Token;
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await GrammarCompiler.CompileAsync(entry.Key.Spec, entry.Key.Vocab, _limits, ct).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<TokenAutomaton> WaitAsync(Entry entry, CancellationToken ct)
    {
        var task = entry.Task!;
        if (!ct.CanBeCanceled || task.IsCompleted) return await task.ConfigureAwait(false);
        try
        {
            return await task.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            LeaveWhileRunning(entry);
            throw;
        }
    }

    /// <summary>A waiter gave up: the last one to go cancels the compile and drops its entry.</summary>
    private void LeaveWhileRunning(Entry entry)
    {
        lock (_gate)
        {
            if (--entry.Waiters > 0 || entry.Task!.IsCompleted) return;
            Remove(entry);
        }
        entry.Cancel.Cancel();
    }

    private void Settle(Entry entry, Task<TokenAutomaton> task)
    {
        bool keep = task.IsCompletedSuccessfully ||
            (task.IsFaulted && task.Exception!.InnerException is GrammarException { IsTransient: false });
        lock (_gate)
        {
            if (!_entries.TryGetValue(entry.Key, out var node) || node.Value != entry) return;
            if (!keep)
            {
                Remove(entry);
                return;
            }
            entry.Bytes = task.IsCompletedSuccessfully ? task.Result.MemoryBytes : FailureBytes;
            _bytes += entry.Bytes;
            EvictOverflow();
        }
    }

    /// <summary>Drops least recently used entries past the count or byte budget (a running compile keeps running for its waiters).</summary>
    private void EvictOverflow()
    {
        while (_lru.Last is { } last && (_entries.Count > Capacity || _bytes > MaxBytes)) Remove(last.Value);
    }

    private void Remove(Entry entry)
    {
        if (!_entries.TryGetValue(entry.Key, out var node) || node.Value != entry) return;
        _lru.Remove(node);
        _entries.Remove(entry.Key);
        _bytes -= entry.Bytes;
    }

    private sealed class Entry((GrammarSpec Spec, TokenVocabulary Vocab) key)
    {
        public (GrammarSpec Spec, TokenVocabulary Vocab) Key { get; } = key;
        public CancellationTokenSource Cancel { get; } = new();
        public Task<TokenAutomaton>? Task { get; set; }
        public int Waiters { get; set; }
        public long Bytes { get; set; }
    }
}
