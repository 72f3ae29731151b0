using System.Diagnostics;
using k8s;
using k8s.Models;

namespace Inkwell.Deploy.Tests.Deploy;

/// <summary>A theory that needs kubectl (its built-in kustomize) on PATH: skipped with a clear reason without it.</summary>
public sealed class KubectlTheoryAttribute : TheoryAttribute
{
    public KubectlTheoryAttribute()
    {
        if (KustomizeBuildTests.Kubectl is null) Skip = "needs kubectl on PATH (kubectl kustomize)";
    }
}

/// <summary>Each overlay as kubectl builds it: kustomize accepts it, and what comes out is the base and the overlay's
/// own objects, every one loading strictly.</summary>
public class KustomizeBuildTests
{
    public static string? Kubectl { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(dir => Path.Combine(dir, "kubectl")).FirstOrDefault(File.Exists);

    [KubectlTheory]
    [InlineData("overlays/queue-depth")]
    [InlineData("overlays/cpu")]
    public void KubectlKustomize_BuildsTheOverlay_IntoTheBaseAndItsOwnObjects(string overlay)
    {
        var psi = new ProcessStartInfo(Kubectl!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "kustomize", Path.Combine(DeployManifests.Root, overlay) }) psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var built = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000));
        Assert.True(process.ExitCode == 0, $"kubectl kustomize {overlay}: {stderr.Result}");

        var objects = DeployManifests.LoadStrict(built).Cast<IKubernetesObject<V1ObjectMeta>>().Select(o => (o.Kind, o.Metadata.Name)).ToHashSet();
        var expected = DeployManifests.All.Where(m => m.File.StartsWith("base" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                || m.File.StartsWith(overlay + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Select(m => (m.Object.Kind, ((IKubernetesObject<V1ObjectMeta>)m.Object).Metadata.Name)).ToHashSet();
        Assert.Equal(expected.Order(), objects.Order());
    }
}
