namespace Inkwell.Engine.Grammar;

/// <summary>
/// Compiles each (spec, vocabulary) once, on the thread pool, and keeps the last Capacity results (LRU).
/// Concurrent requests for the same grammar share one compile. A caller's cancellation only stops its wait;
/// the compile itself is bounded by <see cref="GrammarLimits.CompileTimeout"/> and the size limits. Invalid
/// grammars stay cached (they are invalid every time); timed-out or cancelled compiles are dropped.
/// </summary>
public sealed class GrammarCache
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(GrammarSpec Spec, TokenVocabulary Vocab), LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _lru = new();
    private readonly GrammarLimits _limits;

    public GrammarCache(int capacity = 128, GrammarLimits? limits = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _limits = limits ?? GrammarLimits.Default;
    }

    public int Capacity { get; }

    public int Count
    {
        get { lock (_gate) return _entries.Count; }
    }

    public Task<TokenAutomaton> GetOrCompileAsync(GrammarSpec spec, TokenVocabulary vocabulary, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(vocabulary);
        var key = (spec, vocabulary);
        Task<TokenAutomaton> task;
        bool created = false;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                task = node.Value.Task;
            }
            else
            {
                task = Task.Run(() => CompileWithBudget(spec, vocabulary), CancellationToken.None);
                _entries[key] = _lru.AddFirst(new Entry(key, task));
                while (_entries.Count > Capacity)
                {
                    var last = _lru.Last!;
                    _lru.RemoveLast();
                    _entries.Remove(last.Value.Key);
                }
                created = true;
            }
        }
        // Registered outside the lock: a compile that already finished runs this continuation inline.
        if (created)
            _ = task.ContinueWith(t => ForgetIfTransient(key, t), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return ct.CanBeCanceled ? task.WaitAsync(ct) : task;
    }

    private TokenAutomaton CompileWithBudget(GrammarSpec spec, TokenVocabulary vocabulary)
    {
        using var budget = new CancellationTokenSource(_limits.CompileTimeout);
        try
        {
            return GrammarCompiler.Compile(spec, vocabulary, _limits, budget.Token);
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            throw new GrammarException(
                $"grammar is too large: compiling took longer than {_limits.CompileTimeout.TotalSeconds:0.#} s") { IsTransient = true };
        }
    }

    private void ForgetIfTransient((GrammarSpec, TokenVocabulary) key, Task<TokenAutomaton> task)
    {
        bool deterministic = task.IsCompletedSuccessfully ||
            (task.IsFaulted && task.Exception!.InnerException is GrammarException { IsTransient: false });
        if (deterministic) return;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var node) && node.Value.Task == task)
            {
                _lru.Remove(node);
                _entries.Remove(key);
            }
        }
    }

    private sealed record Entry((GrammarSpec Spec, TokenVocabulary Vocab) Key, Task<TokenAutomaton> Task);
}
