using System.IO.Compression;

namespace Inkwell.Models.PyTorch;

/// <summary>
/// A PyTorch checkpoint in the zip format torch.save writes since 1.6 (<c>NAME/data.pkl</c>, <c>NAME/data/KEY</c>
/// per storage, <c>NAME/byteorder</c>), read through <see cref="RestrictedUnpickler"/>: the tensors of its state
/// dict, in the dict's order, and their storages' bytes on demand.
/// </summary>
public sealed class TorchCheckpoint : IDisposable
{
    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly Dictionary<string, byte[]> _storages = new(StringComparer.Ordinal);

    public string Path { get; }

    /// <summary>(name, tensor) in state-dict order.</summary>
    public IReadOnlyList<KeyValuePair<string, TensorReference>> Tensors { get; }

    private TorchCheckpoint(string path)
    {
        Path = path;
        var stream = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        int read = stream.Read(head);
        if (read < 4 || head[0] != (byte)'P' || head[1] != (byte)'K')
        {
            stream.Dispose();
            throw read >= 2 && head[0] == 0x80
                ? Bad("legacy (pre-1.6, non-zip) PyTorch serialization is not supported; re-save it with a current torch.save")
                : Bad("not a PyTorch checkpoint (expected a zip archive)");
        }
        stream.Position = 0;
        try { _zip = new ZipArchive(stream, ZipArchiveMode.Read); }
        catch (InvalidDataException e)
        {
            stream.Dispose();
            throw Bad($"damaged zip archive ({e.Message})");
        }
        try
        {
            var pickle = _zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                ?? throw Bad("no data.pkl in the archive");
            _prefix = pickle.FullName[..^"data.pkl".Length];
            if (_zip.GetEntry(_prefix + "byteorder") is { } order && ReadAll(order) is var bytes && System.Text.Encoding.ASCII.GetString(bytes).Trim() != "little")
                throw Bad("big-endian checkpoints are not supported");
            var root = RestrictedUnpickler.Load(ReadAll(pickle), path);
            if (root is not PickleDictionary dict) throw Bad("the pickle does not hold a dictionary (a state dict is expected)");
            var tensors = new List<KeyValuePair<string, TensorReference>>();
            foreach (var (name, value) in dict.Items)
            {
                if (value is not TensorReference t)
                    throw Bad($"'{name}' is not a tensor; only state dicts of tensors are converted");
                tensors.Add(new(name, t));
            }
            Tensors = tensors;
        }
        catch
        {
            _zip.Dispose();
            throw;
        }
    }

    public static TorchCheckpoint Open(string path) =>
        File.Exists(path) ? new TorchCheckpoint(path) : throw new FileNotFoundException($"{path}: file not found", path);

    /// <summary>A storage's bytes (read once, kept while the checkpoint is open: views and tied weights share them).</summary>
    public byte[] StorageBytes(StorageReference storage)
    {
        if (_storages.TryGetValue(storage.Key, out var cached)) return cached;
        var entry = _zip.GetEntry($"{_prefix}data/{storage.Key}") ?? throw Bad($"storage '{storage.Key}' is missing from the archive");
        long needed = storage.ElementCount * TorchDTypes.ElementBytes(storage.DType);
        if (entry.Length < needed) throw Bad($"storage '{storage.Key}' holds {entry.Length} bytes, {needed} needed for {storage.ElementCount} {storage.DType}: truncated?");
        var bytes = ReadAll(entry);
        _storages[storage.Key] = bytes;
        return bytes;
    }

    /// <summary>Drops a cached storage once the tensors that view it are written, so a shard is never held whole.</summary>
    public void Release(StorageReference storage) => _storages.Remove(storage.Key);

    private byte[] ReadAll(ZipArchiveEntry entry)
    {
        if (entry.Length > Array.MaxLength) throw Bad($"'{entry.FullName}' is {entry.Length} bytes, larger than one buffer can hold");
        var buffer = new byte[entry.Length];
        using var s = entry.Open();
        s.ReadExactly(buffer);
        return buffer;
    }

    private InvalidDataException Bad(string problem) => new($"{Path}: {problem}");

    public void Dispose() => _zip.Dispose();
}
