namespace Inkwell.Models.Hub;

/// <summary>A revision's files in the cache: its snapshot folder and what was selected from it.</summary>
public sealed record HubSnapshot(HubModelId Id, string Commit, string Folder, IReadOnlyList<string> Files, HubFileSelection? Selection)
{
    /// <summary>What the model loader opens: the GGUF file, or the snapshot folder.</summary>
    public string ModelPath => Selection?.ModelFile is { } file ? Path.Combine(Folder, file) : Folder;
}

/// <summary>
/// Turns what a user typed as a model into a path the loader opens: a local file or directory as it is; else a
/// Hub model id (`org/name[@revision][:QUANT]`) found in the Hugging Face cache, or downloaded into it unless
/// HF_HUB_OFFLINE is set.
/// </summary>
public sealed class HubModelResolver : IDisposable
{
    private readonly HubSettings _settings;
    private readonly IDownloadProgress? _progress;
    private readonly HubApi _api;

    public HubModelResolver(HubSettings settings, IDownloadProgress? progress = null, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _progress = progress;
        _api = new HubApi(settings, handler);
        Cache = new HubCache(settings.CacheDirectory);
    }

    public HubCache Cache { get; }

    /// <summary>The resolver every entry point uses (commands, gateway deployments): settings from the environment,
    /// and the one place convert-to-safetensors is wired in.</summary>
    public static HubModelResolver FromEnvironment(IDownloadProgress? progress = null) =>
        new(HubSettings.FromEnvironment(), progress)
        {
            // As TGIS does on start: a .bin-only snapshot gets safetensors beside its .bin files (once).
            ConvertBinToSafeTensors = folder =>
            {
                if (PyTorch.PyTorchCheckpointConverter.NeedsConversion(folder)) PyTorch.PyTorchCheckpointConverter.ConvertDirectory(folder);
            },
        };

    /// <summary>
    /// Writes safetensors beside PyTorch .bin weights in a snapshot folder (convert-to-safetensors); when null, a
    /// .bin-only model is refused with a message saying so.
    /// </summary>
    public Action<string>? ConvertBinToSafeTensors { get; init; }

    public string Resolve(string modelIdOrPath, string? revision = null) =>
        ResolveAsync(modelIdOrPath, revision, CancellationToken.None).GetAwaiter().GetResult();

    public async Task<string> ResolveAsync(string modelIdOrPath, string? revision, CancellationToken ct)
    {
        if (File.Exists(modelIdOrPath) || Directory.Exists(modelIdOrPath))
            return revision is null ? modelIdOrPath : throw new ArgumentException($"--revision {revision} applies to Hub model ids, but {modelIdOrPath} is a local path");
        if (!HubModelId.TryParse(modelIdOrPath, revision, out var id))
            throw new FileNotFoundException($"{modelIdOrPath}: model file not found, and not a Hugging Face model id (org/name[@revision][:QUANT])", modelIdOrPath);
        var (cached, missing) = FindInCache(id);
        if (cached is not null) return Loadable(cached);
        if (_settings.Offline)
            throw new HubException($"HF_HUB_OFFLINE is set and {id} is not usable from the cache {_settings.CacheDirectory}: {missing}; download it while online (inkwell download-weights {id})");
        return Loadable(await DownloadAsync(id, extension: null, include: [], ct));
    }

    /// <summary>
    /// Fetches a revision's model files (or, with <paramref name="include"/>, the files matching those globs) into
    /// the cache, several at once, and records the revision's commit in refs/. Offline, answers from the cache.
    /// </summary>
    public async Task<HubSnapshot> DownloadAsync(HubModelId id, string? extension, IReadOnlyList<string> include, CancellationToken ct)
    {
        if (include.Count > 0 && (extension is not null || id.QuantTag is not null))
            throw new ArgumentException("--include chooses the files itself: it does not combine with --extension or a :QUANT tag");
        if (_settings.Offline)
        {
            var (cached, missing) = include.Count == 0 ? FindInCache(id, extension) : (null, "--include needs the Hub's file list");
            return cached ?? throw new HubException($"HF_HUB_OFFLINE is set and {id} is not complete in the cache {_settings.CacheDirectory}: {missing}");
        }
        try
        {
            return await FetchAsync(id, extension, include, ct);
        }
        catch (HttpRequestException e)
        {
            throw new HubException($"{id}: cannot reach {_settings.Endpoint}: {e.Message} (HF_HUB_OFFLINE=1 uses the cache only)", e);
        }
    }

    private async Task<HubSnapshot> FetchAsync(HubModelId id, string? extension, IReadOnlyList<string> include, CancellationToken ct)
    {
        var revision = await _api.GetRevisionAsync(id.Repository, id.Revision, ct);
        HubFileSelection? selection = include.Count > 0 ? null : HubFileSelection.Choose(id.Repository, revision.Files, extension, id.QuantTag);
        var files = selection?.Files ?? HubFileSelection.Matching(id.Repository, revision.Files, include);
        Cache.TagAsCacheDirectory();
        var downloader = new BlobDownloader(_api, Cache, _settings, _progress);
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _settings.MaxParallelDownloads), CancellationToken = ct },
            async (file, token) => await downloader.FetchAsync(id.Repository, revision.Commit, file, token));
        // The ref comes last: a revision the cache names is one whose files are all there.
        Cache.WriteRef(id.Repository, id.Revision, revision.Commit);
        return new HubSnapshot(id, revision.Commit, Cache.SnapshotFolder(id.Repository, revision.Commit), files, selection);
    }

    /// <summary>The snapshot made ready to open: .bin-only weights go through convert-to-safetensors first.</summary>
    public string Loadable(HubSnapshot snapshot)
    {
        if (snapshot.Selection?.Format != WeightFormat.PyTorchBin) return snapshot.ModelPath;
        if (ConvertBinToSafeTensors is null)
            throw new NotSupportedException($"{snapshot.Id} has only PyTorch .bin weights (in {snapshot.Folder}) and convert-to-safetensors is not available in this build");
        ConvertBinToSafeTensors(snapshot.Folder);
        return snapshot.ModelPath;
    }

    /// <summary>The cached snapshot of <paramref name="id"/> if it holds every file the model needs; else what is missing.</summary>
    private (HubSnapshot? Snapshot, string Missing) FindInCache(HubModelId id, string? extension = null)
    {
        string folder = Cache.RepositoryFolder(id.Repository);
        if (!Directory.Exists(folder)) return (null, $"no {folder}");
        string? commit = Cache.FindCommit(id.Repository, id.Revision);
        if (commit is null)
            return (null, HubCache.IsCommitHash(id.Revision) ? $"no snapshots/{id.Revision}" : $"no refs/{id.Revision} naming a cached snapshot");
        var present = Cache.SnapshotFiles(id.Repository, commit);
        HubFileSelection selection;
        try { selection = HubFileSelection.Choose(id.Repository, present, extension, id.QuantTag); }
        catch (HubException e) { return (null, $"snapshot {commit}: {e.Message}"); }
        string snapshotFolder = Cache.SnapshotFolder(id.Repository, commit);
        var missing = selection.MissingFrom(snapshotFolder, present.ToHashSet(StringComparer.Ordinal));
        return missing.Count > 0
            ? (null, $"snapshot {commit} lacks {string.Join(", ", missing)}")
            : (new HubSnapshot(id, commit, snapshotFolder, selection.Files, selection), "");
    }

    public void Dispose() => _api.Dispose();
}
