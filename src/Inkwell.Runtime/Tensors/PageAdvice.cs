namespace Inkwell.Runtime.Tensors;

/// <summary>
/// madvise on the whole pages inside a range of a mapped model file (Linux; elsewhere nothing). Advice only: a kernel
/// that cannot follow it leaves the mapping as it was.
/// </summary>
public static unsafe partial class PageAdvice
{
    /// <summary>
    /// Map the range with 2 MiB pages where the page cache holds 2 MiB folios, and read the file into such folios
    /// where it does not hold it yet (MADV_HUGEPAGE): decode streams every weight once per token, and with 4 KiB
    /// pages each 4 KiB of weights, one row of a 2048-wide f16 matrix, costs a TLB miss of its own.
    /// </summary>
    public static void HugePages(void* start, long bytes) => Advise(start, bytes, MadvHugePage);

    /// <summary>
    /// Drop the resident pages (MADV_DONTNEED). Only for read-only file mappings, whose pages a later read faults back
    /// in from the file.
    /// </summary>
    public static void ReleaseFilePages(void* start, long bytes) => Advise(start, bytes, MadvDontNeed);

    private static void Advise(void* start, long bytes, int advice)
    {
        if (!OperatingSystem.IsLinux() || bytes <= 0) return;
        nuint page = (nuint)Environment.SystemPageSize;
        nuint first = ((nuint)start + page - 1) & ~(page - 1);
        nuint end = ((nuint)start + (nuint)bytes) & ~(page - 1);
        if (end > first) _ = Madvise((void*)first, end - first, advice);
    }

    private const int MadvDontNeed = 4, MadvHugePage = 14;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
