namespace Inkwell.Models.Hub;

/// <summary>Hears how each file of a download goes; called from several threads at once, one file per call.</summary>
public interface IDownloadProgress
{
    /// <summary>A transfer starts: <paramref name="alreadyHave"/> bytes come from an earlier, interrupted one.</summary>
    void Started(string file, long totalBytes, long alreadyHave);

    void Advanced(string file, long bytes);

    /// <summary>The file is in the snapshot; <paramref name="fromCache"/> when no byte had to be fetched.</summary>
    void Finished(string file, bool fromCache);
}
