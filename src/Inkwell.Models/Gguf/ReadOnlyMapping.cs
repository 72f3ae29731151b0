using System.IO.MemoryMappedFiles;

namespace Inkwell.Models.Gguf;

/// <summary>
/// Maps a whole model file read-only. The length comes from the opened handle, never from the path's metadata:
/// through a symbolic link (huggingface_hub's cache is made of them) the path's own size is the link's, a few bytes.
/// </summary>
internal static unsafe partial class ReadOnlyMapping
{
    /// <summary>Opens and maps <paramref name="path"/>; a file shorter than <paramref name="minimumLength"/>
    /// (an empty one cannot be mapped at all) throws what <paramref name="tooShort"/> makes of its length.</summary>
    public static (MemoryMappedFile Map, long Length) Open(string path, long minimumLength, Func<long, Exception> tooShort)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = stream.Length;
            if (length < minimumLength) throw tooShort(length);
            return (MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false), length);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Asks Linux to map the file's pages in 2 MiB units where its page cache holds them so (madvise MADV_HUGEPAGE;
    /// elsewhere nothing): decode streams every weight once per token, and with 4 KiB mappings each row of a 2048-wide
    /// f16 matrix is a TLB miss of its own. Advice only: a kernel that cannot follow it maps as before.
    /// </summary>
    public static void AdviseHugePages(byte* start, long bytes) => Advise(start, bytes, MadvHugePage);

    /// <summary>
    /// Drops the resident pages of the whole pages inside the range (madvise MADV_DONTNEED; Linux only). The mapping
    /// is read-only and file-backed, so this only unmaps them; a later read faults them back in.
    /// </summary>
    public static void ReleasePages(byte* start, long bytes) => Advise(start, bytes, MadvDontNeed);

    private static void Advise(byte* start, long bytes, int advice)
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
