using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Inkwell.Models.Hub;

/// <summary>
/// Brings one file of one commit into the cache as huggingface_hub's hf_hub_download does: HEAD for its ETag,
/// reuse blobs/&lt;etag&gt; when there, else GET it into blobs/&lt;etag&gt;.incomplete (resumed with Range after a dropped
/// connection or an earlier interrupted run), check it, move it into place, and link it from the snapshot.
/// </summary>
internal sealed partial class BlobDownloader(HubApi api, HubCache cache, HubSettings settings, IDownloadProgress? progress)
{
    private const int BufferBytes = 1 << 20;
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Returns the snapshot path of <paramref name="file"/>.</summary>
    public async Task<string> FetchAsync(string repository, string commit, string file, CancellationToken ct)
    {
        var metadata = await api.GetFileMetadataAsync(repository, commit, file, ct);
        string blob = cache.BlobPath(repository, metadata.Etag);
        if (!HubCache.HasContent(blob))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
            using var fileLock = await LockAsync(cache.LockPath(repository, metadata.Etag), ct);
            if (!HubCache.HasContent(blob)) // another process may have finished it while we waited
            {
                string incomplete = cache.IncompletePath(repository, metadata.Etag);
                await DownloadAsync(file, metadata, incomplete, ct);
                Verify(file, metadata, incomplete);
                File.Move(incomplete, blob, overwrite: true);
                string link = cache.Link(repository, commit, file, metadata.Etag);
                progress?.Finished(file, fromCache: false);
                return link;
            }
        }
        string cached = cache.Link(repository, commit, file, metadata.Etag);
        progress?.Finished(file, fromCache: true);
        return cached;
    }

    private async Task DownloadAsync(string file, HubFileMetadata metadata, string incomplete, CancellationToken ct)
    {
        long have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (have > metadata.Size) { File.Delete(incomplete); have = 0; }
        progress?.Started(file, metadata.Size, have);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (have == metadata.Size) return;
                using var response = await api.GetAsync(metadata.Location, have, ct);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                    throw new HubIntegrityException($"{file}: the server has no bytes from {have} on, but announced {metadata.Size}");
                bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
                if (resumed && response.Content.Headers.ContentRange?.From != have)
                    throw new HubIntegrityException($"{file}: asked for bytes from {have}, the server sent {response.Content.Headers.ContentRange}");
                if (!resumed && have > 0)
                {
                    // The server ignored Range and sends the whole file: start over rather than append it.
                    have = 0;
                    progress?.Started(file, metadata.Size, 0);
                }
                await using var output = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferBytes);
                await using var input = await response.Content.ReadAsStreamAsync(ct);
                have = await CopyAsync(file, input, output, have, ct);
                if (have != metadata.Size)
                    throw new IOException($"{file}: the connection ended after {have} of {metadata.Size} bytes");
                return;
            }
            catch (Exception e) when (e is IOException or HttpRequestException && e is not HubException && attempt < settings.MaxAttempts && !ct.IsCancellationRequested)
            {
                await Task.Delay(settings.RetryDelay * attempt, ct);
                have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            }
        }
    }

    private async Task<long> CopyAsync(string file, Stream input, Stream output, long have, CancellationToken ct)
    {
        var buffer = new byte[BufferBytes];
        using var read = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            read.CancelAfter(ReadTimeout);
            int n;
            try { n = await input.ReadAsync(buffer, read.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new IOException($"{file}: no data for {ReadTimeout.TotalSeconds:F0}s after {have} bytes");
            }
            if (n == 0) return have;
            await output.WriteAsync(buffer.AsMemory(0, n), ct);
            have += n;
            progress?.Advanced(file, n);
            if (!read.TryReset()) throw new OperationCanceledException(ct);
        }
    }

    /// <summary>Size, then content: an LFS ETag is the file's SHA-256, a plain one its git blob id
    /// (SHA-1 of "blob {size}\0" + bytes). A file that fails is removed, so no later run takes it as a prefix.</summary>
    private static void Verify(string file, HubFileMetadata metadata, string path)
    {
        long length = new FileInfo(path).Length;
        string? problem = null;
        if (length != metadata.Size) problem = $"{length} bytes arrived but the Hub announced {metadata.Size}";
        else if (Sha256Hex().IsMatch(metadata.Etag))
        {
            string actual = HashFile(path, SHA256.Create(), null);
            if (actual != metadata.Etag) problem = $"the downloaded bytes have SHA-256 {actual} but the Hub's ETag (the LFS object id) is {metadata.Etag}";
        }
        else if (Sha1Hex().IsMatch(metadata.Etag))
        {
            string actual = HashFile(path, SHA1.Create(), Encoding.ASCII.GetBytes($"blob {length}\0"));
            if (actual != metadata.Etag) problem = $"the downloaded bytes have git blob id {actual} but the Hub's ETag is {metadata.Etag}";
        }
        // Any other ETag (a mirror's) is no content hash: the size is all that can be checked.
        if (problem is null) return;
        File.Delete(path);
        throw new HubIntegrityException($"{file}: {problem}; the download was discarded, run it again");
    }

    private static string HashFile(string path, HashAlgorithm algorithm, byte[]? prefix)
    {
        using (algorithm)
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferBytes))
        {
            if (prefix is not null) algorithm.TransformBlock(prefix, 0, prefix.Length, null, 0);
            var buffer = new byte[BufferBytes];
            int n;
            while ((n = stream.Read(buffer)) > 0) algorithm.TransformBlock(buffer, 0, n, null, 0);
            algorithm.TransformFinalBlock([], 0, 0);
            return Convert.ToHexStringLower(algorithm.Hash!);
        }
    }

    /// <summary>The lock huggingface_hub takes for the same blob: .NET's FileShare.None is an flock on Unix, the
    /// same advisory lock Python's filelock takes, so concurrent Python and Inkwell downloads wait for each other.</summary>
    private static async Task<FileStream> LockAsync(string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (!ct.IsCancellationRequested) { await Task.Delay(200, ct); }
        }
    }

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Hex();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex Sha1Hex();
}
