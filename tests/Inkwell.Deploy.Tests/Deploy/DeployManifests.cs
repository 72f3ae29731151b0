using k8s;
using k8s.Models;
using Inkwell.TestSupport;
using YamlDotNet.RepresentationModel;

namespace Inkwell.Deploy.Tests.Deploy;

/// <summary>One Kubernetes object of deploy/ and the file it came from.</summary>
public sealed record Manifest(string File, IKubernetesObject Object);

/// <summary>Every manifest under deploy/, loaded by KubernetesClient's typed YAML loader in strict mode (a field
/// Kubernetes does not know is an error), and the kustomizations that assemble them.</summary>
public static class DeployManifests
{
    public const string KustomizationFileName = "kustomization.yaml";

    public static string Root => RepoPaths.InRoot("deploy");

    /// <summary>The object files (every *.yaml but the kustomizations).</summary>
    public static IReadOnlyList<string> ObjectFiles { get; } = [.. Directory.EnumerateFiles(Root, "*.yaml", SearchOption.AllDirectories)
        .Where(f => Path.GetFileName(f) != KustomizationFileName).Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> KustomizationFiles { get; } = [.. Directory.EnumerateFiles(Root, KustomizationFileName, SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)];

    /// <summary>Every object of every file; a file that fails to load is named in the exception.</summary>
    public static IReadOnlyList<Manifest> All => LoadedOnce.Value;

    private static readonly Lazy<IReadOnlyList<Manifest>> LoadedOnce = new(() => [.. ObjectFiles.SelectMany(LoadFile)]);

    public static IEnumerable<Manifest> LoadFile(string file)
    {
        var name = Path.GetRelativePath(Root, file);
        try
        {
            return [.. LoadStrict(File.ReadAllText(file)).Select(o => new Manifest(name, (IKubernetesObject)o))];
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            throw new InvalidOperationException($"deploy/{name} does not load as Kubernetes objects: {e.Message}", e);
        }
    }

    public static IReadOnlyList<object> LoadStrict(string yaml) => KubernetesYaml.LoadAllFromString(yaml, strict: true);

    public static IEnumerable<T> Of<T>() where T : IKubernetesObject => All.Select(m => m.Object).OfType<T>();

    public static T Named<T>(string name) where T : IKubernetesObject<V1ObjectMeta> =>
        Of<T>().SingleOrDefault(o => o.Metadata.Name == name) ?? throw new InvalidOperationException($"no {typeof(T).Name} named '{name}' in deploy/");

    public static V1Deployment Replicas => Named<V1Deployment>("inkwell");
    public static V1Deployment Gateway => Named<V1Deployment>("inkwell-gateway");

    /// <summary>The `resources:` entries of a kustomization, as paths relative to its folder.</summary>
    public static IReadOnlyList<string> ResourcesOf(string kustomizationFile)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(kustomizationFile)));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        return root.Children.TryGetValue(new YamlScalarNode("resources"), out var node)
            ? [.. ((YamlSequenceNode)node).Children.Select(c => ((YamlScalarNode)c).Value!)]
            : [];
    }

    /// <summary>The value following <paramref name="flag"/> in a container's args, or null.</summary>
    public static string? Flag(V1Container container, string flag)
    {
        var args = container.Args ?? [];
        int at = args.IndexOf(flag);
        return at >= 0 && at + 1 < args.Count ? args[at + 1] : null;
    }

    /// <summary>A container port by the name or number a probe or Service uses.</summary>
    public static int ContainerPort(V1Container container, string nameOrNumber) =>
        int.TryParse(nameOrNumber, out int number) ? number
        : container.Ports?.SingleOrDefault(p => p.Name == nameOrNumber)?.ContainerPort
          ?? throw new InvalidOperationException($"container '{container.Name}' has no port named '{nameOrNumber}'");
}
