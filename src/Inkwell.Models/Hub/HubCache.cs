using System.Text.RegularExpressions;

namespace Inkwell.Models.Hub;

/// <summary>
/// huggingface_hub's cache layout, exactly: `models--org--name/blobs/&lt;etag&gt;` holds each file's bytes once,
/// `snapshots/&lt;commit&gt;/&lt;path&gt;` are relative symbolic links to those blobs, `refs/&lt;revision&gt;` holds the commit
/// a branch or tag pointed at (no newline), and `.locks/models--org--name/&lt;etag&gt;.lock` guards a blob's download.
/// </summary>
public sealed partial class HubCache(string root)
{
    public string Root { get; } = root;

    public string RepositoryFolder(string repository) => Path.Combine(Root, "models--" + repository.Replace("/", "--"));

    public string BlobPath(string repository, string etag) => Path.Combine(RepositoryFolder(repository), "blobs", etag);

    /// <summary>Where a blob grows while it downloads; it gets its final name only when complete and verified.</summary>
    public string IncompletePath(string repository, string etag) => BlobPath(repository, etag) + ".incomplete";

    public string LockPath(string repository, string etag) =>
        Path.Combine(Root, ".locks", Path.GetFileName(RepositoryFolder(repository)), etag + ".lock");

    public string SnapshotFolder(string repository, string commit) => Path.Combine(RepositoryFolder(repository), "snapshots", commit);

    public string SnapshotFile(string repository, string commit, string file) =>
        Path.Combine(SnapshotFolder(repository, commit), file.Replace('/', Path.DirectorySeparatorChar));

    public string RefPath(string repository, string revision) =>
        Path.Combine(RepositoryFolder(repository), "refs", revision.Replace('/', Path.DirectorySeparatorChar));

    public static bool IsCommitHash(string revision) => CommitHash().IsMatch(revision);

    /// <summary>The commit a revision stands for in the cache: itself when it is a cached commit hash, else what
    /// refs/&lt;revision&gt; says; null when the cache does not know it.</summary>
    public string? FindCommit(string repository, string revision)
    {
        if (IsCommitHash(revision)) return Directory.Exists(SnapshotFolder(repository, revision)) ? revision : null;
        string refPath = RefPath(repository, revision);
        if (!File.Exists(refPath)) return null;
        string commit = File.ReadAllText(refPath).Trim();
        return IsCommitHash(commit) && Directory.Exists(SnapshotFolder(repository, commit)) ? commit : null;
    }

    /// <summary>Records that <paramref name="revision"/> now means <paramref name="commit"/> (huggingface_hub writes
    /// no ref for a revision that is itself the commit).</summary>
    public void WriteRef(string repository, string revision, string commit)
    {
        if (revision == commit) return;
        string refPath = RefPath(repository, revision);
        if (File.Exists(refPath) && File.ReadAllText(refPath) == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        File.WriteAllText(refPath, commit);
    }

    /// <summary>Marks the cache for backup tools as huggingface_hub does (the Cache Directory Tagging Standard,
    /// https://bford.info/cachedir/), unless a tag is already there.</summary>
    public void TagAsCacheDirectory()
    {
        string tag = Path.Combine(Root, "CACHEDIR.TAG");
        if (File.Exists(tag)) return;
        Directory.CreateDirectory(Root);
        File.WriteAllText(tag, "Signature: 8a477f597d28d172789f06886806bc55\n" +
            "# This file is a cache directory tag created by Inkwell (huggingface_hub's cache layout).\n" +
            "# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n");
    }

    /// <summary>Files present in a snapshot, as repository paths with '/' (links whose blob is missing left out).</summary>
    public IReadOnlyList<string> SnapshotFiles(string repository, string commit)
    {
        string folder = SnapshotFolder(repository, commit);
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(HasContent)
            .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>Points snapshots/&lt;commit&gt;/&lt;file&gt; at blobs/&lt;etag&gt; with a relative link, as huggingface_hub's
    /// _create_symlink does (os.path.relpath from the link's folder), so the cache can be moved as a whole.</summary>
    public string Link(string repository, string commit, string file, string etag)
    {
        string link = SnapshotFile(repository, commit, file);
        string folder = Path.GetDirectoryName(link)!;
        Directory.CreateDirectory(folder);
        string target = Path.GetRelativePath(folder, BlobPath(repository, etag));
        var existing = new FileInfo(link);
        if (existing.LinkTarget == target) return link;
        if (existing.Exists || existing.LinkTarget is not null) existing.Delete();
        File.CreateSymbolicLink(link, target);
        return link;
    }

    /// <summary>A regular file, or a link whose final target is one (File.Exists is true for a dangling link).</summary>
    public static bool HasContent(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Exists : info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true };
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
