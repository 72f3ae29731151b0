using System.IO.MemoryMappedFiles;

namespace Inkwell.Models.Gguf;

/// <summary>
/// Maps a whole model file read-only. The length comes from the opened handle, never from the path's metadata:
/// through a symbolic link (huggingface_hub's cache is made of them) the path's own size is the link's, a few bytes.
/// </summary>
internal static class ReadOnlyMapping
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
}
