namespace Inkwell.Engine.Grammar;

/// <summary>
/// One compile's running account: the limits, the cancellation (the caller's, joined with the compile timeout) and
/// the bytes its data structures hold so far. Charged as structures grow (from several threads during the token
/// index), so a grammar that would need too much memory is refused before it gets it.
/// </summary>
internal sealed class CompileBudget(GrammarLimits limits, CancellationToken ct)
{
    private long _bytes;

    public GrammarLimits Limits => limits;

    public CancellationToken Token => ct;

    public long Bytes => Volatile.Read(ref _bytes);

    public void ThrowIfCancelled() => ct.ThrowIfCancellationRequested();

    public void Charge(long bytes, string what)
    {
        if (Interlocked.Add(ref _bytes, bytes) > limits.MaxMemoryBytes)
            throw GrammarException.TooLarge($"{what} would need more than {limits.MaxMemoryBytes / 1048576.0:0.##} MiB");
    }

    /// <summary>For callers that only need the default limits and a cancellation token.</summary>
    public static CompileBudget For(GrammarLimits? limits, CancellationToken ct) => new(limits ?? GrammarLimits.Default, ct);
}
