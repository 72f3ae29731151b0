using System.Text.Json;
using k8s.Models;
using Inkwell.TestSupport;

namespace Inkwell.Deploy.Tests.Deploy;

/// <summary>The Dockerfile, parsed (no Docker daemon here): a multi-stage publish onto the ASP.NET Core runtime as a
/// non-root user, whose EXPOSE, ENTRYPOINT and HF_HOME agree with the manifests that run it.</summary>
public class DockerfileTests
{
    private sealed record Instruction(string Keyword, string Arguments);

    private static readonly List<Instruction> Instructions = Parse(File.ReadAllText(RepoPaths.InRoot("Dockerfile")));

    /// <summary>Instructions with line continuations joined and comments dropped, as the builder reads them.</summary>
    private static List<Instruction> Parse(string dockerfile)
    {
        var logical = new List<string>();
        var current = "";
        foreach (var raw in dockerfile.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.TrimStart().StartsWith('#') || (current.Length == 0 && line.Length == 0)) continue;
            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }
            logical.Add(current + line);
            current = "";
        }
        return [.. logical.Select(l => l.Trim()).Select(l =>
        {
            int space = l.IndexOf(' ');
            return new Instruction(l[..space].ToUpperInvariant(), l[(space + 1)..].Trim());
        })];
    }

    /// <summary>The instructions of the last stage (the image that runs).</summary>
    private static List<Instruction> FinalStage => [.. Instructions.Skip(Instructions.FindLastIndex(i => i.Keyword == "FROM"))];

    [Fact]
    public void BuildsWithTheSdk_AndRunsOnTheAspNetCoreRuntime_AsANonRootUser()
    {
        var stages = Instructions.Where(i => i.Keyword == "FROM").Select(i => i.Arguments.Split(' ')[0]).ToList();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/aspnet:10.0"], stages);
        var user = Assert.Single(FinalStage, i => i.Keyword == "USER").Arguments;
        Assert.DoesNotContain(user, new[] { "root", "0", "0:0" });
        var publish = Assert.Single(Instructions, i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish")).Arguments;
        Assert.Contains("src/Inkwell.Cli/Inkwell.Cli.csproj", publish);
        Assert.Contains("-o /app", publish);
        Assert.Contains(FinalStage, i => i.Keyword == "COPY" && i.Arguments.StartsWith("--from=build /app ", StringComparison.Ordinal));
    }

    [Fact]
    public void Entrypoint_RunsThePublishedCli_AndTheManifestsOnlyPassItsArguments()
    {
        var entrypoint = JsonSerializer.Deserialize<string[]>(Assert.Single(FinalStage, i => i.Keyword == "ENTRYPOINT").Arguments)!;
        Assert.Equal("dotnet", entrypoint[0]);
        Assert.Equal("/app/inkwell.dll", Assert.Single(entrypoint[1..]));
        // The CLI's assembly is the file the entry point names (it sits beside these tests, built from the same project).
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, Path.GetFileName(entrypoint[1]))));
        var cmd = JsonSerializer.Deserialize<string[]>(Assert.Single(FinalStage, i => i.Keyword == "CMD").Arguments)!;
        Assert.Equal(["serve", "--hostname", "0.0.0.0"], cmd);
        foreach (var deployment in DeployManifests.Of<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            Assert.Null(container.Command);
            Assert.Contains($"docker build -t {container.Image} .", File.ReadAllText(RepoPaths.InRoot("Dockerfile")));
        }
    }

    [Fact]
    public void Expose_IsExactlyTheReplicaContainersPorts_AndCoversTheGateways()
    {
        var exposed = FinalStage.Where(i => i.Keyword == "EXPOSE").SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToHashSet();
        var replicaPorts = Assert.Single(DeployManifests.Replicas.Spec.Template.Spec.Containers).Ports.Select(p => p.ContainerPort).ToHashSet();
        Assert.Equal(replicaPorts.Order(), exposed.Order());
        Assert.Subset(exposed, Assert.Single(DeployManifests.Gateway.Spec.Template.Spec.Containers).Ports.Select(p => p.ContainerPort).ToHashSet());
    }

    [Fact]
    public void HfHome_IsWhereTheManifestsMountTheHubCache()
    {
        var env = Assert.Single(FinalStage, i => i.Keyword == "ENV" && i.Arguments.StartsWith("HF_HOME=", StringComparison.Ordinal)).Arguments["HF_HOME=".Length..];
        var container = Assert.Single(DeployManifests.Replicas.Spec.Template.Spec.Containers);
        Assert.Equal(env, container.Env.Single(e => e.Name == "HF_HOME").Value);
        Assert.Contains(container.VolumeMounts, m => m.MountPath == env);
    }

    [Fact]
    public void EveryCopiedPath_ExistsInTheRepository_AndTheDockerignoreKeepsIt()
    {
        var ignored = File.ReadAllLines(RepoPaths.InRoot(".dockerignore"))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith('!') && !l.Contains('*')).ToList();
        foreach (var copy in Instructions.Where(i => i.Keyword == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal)))
        {
            var parts = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var source in parts[..^1])
            {
                var path = RepoPaths.InRoot(source.TrimEnd('/'));
                Assert.True(File.Exists(path) || Directory.Exists(path), $"COPY {source}: not in the repository");
                Assert.DoesNotContain(ignored, pattern => source.StartsWith(pattern.TrimEnd('/') + "/", StringComparison.Ordinal) || source == pattern);
            }
        }
    }
}
