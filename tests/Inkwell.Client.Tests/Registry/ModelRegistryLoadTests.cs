using Inkwell.Client.Registry;
using static Inkwell.Client.Tests.Registry.RegistryFixtures;

namespace Inkwell.Client.Tests.Registry;

public class ModelRegistryLoadTests
{
    [Fact]
    public void LoadsEveryFieldOfTheFixtureFiles()
    {
        var registry = LoadValid();

        Assert.Equal(5, registry.Models.Count);
        Assert.Equal(6, registry.Deployments.Count);
        var llama = registry.FindModel("meta/llama-2-7b")!;
        Assert.Equal("Llama 2 (7B)", llama.DisplayName);
        Assert.Equal("Meta", llama.CreatorOrganization);
        Assert.Equal(ModelAccess.Open, llama.Access);
        Assert.Equal(new DateOnly(2023, 7, 18), llama.ReleaseDate);
        Assert.Equal(["text", "base"], llama.Tags);
        Assert.Equal(7_000_000_000L, llama.NumParameters);
        Assert.Equal(ModelAccess.Closed, registry.FindModel("acme/undeployed")!.Access);

        var remote = registry.FindDeployment("meta/llama-2-7b")!;
        Assert.Equal(ClientKind.Tgi, remote.ClientSpec.Kind);
        Assert.Equal(new Uri("http://gpu-box:8080/"), Assert.Single(remote.ClientSpec.Urls));
        Assert.Equal((4096, 4096, 8192), (remote.MaxSequenceLength, remote.MaxRequestLength, remote.MaxSequenceAndGeneratedTokensLength));

        var local = registry.FindDeployment("local/llama-2-7b")!;
        Assert.Equal(ClientKind.Local, local.ClientSpec.Kind);
        Assert.Equal(Path.Combine(ValidDirectory, "models", "llama-2-7b.Q4_0.gguf"), local.ClientSpec.ModelPath);
        Assert.Equal(8, local.ClientSpec.GetIntOption("threads"));
        Assert.Equal(4096, local.ClientSpec.GetIntOption("max_total_tokens"));
        Assert.Null(local.ClientSpec.GetIntOption("absent"));
        Assert.Equal("/models/stories260K", registry.FindDeployment("local/stories260k")!.ClientSpec.ModelPath);
        Assert.True(registry.FindDeployment("old/stories260k")!.Deprecated);

        var tokenizer = registry.FindTokenizer("meta/llama-2")!;
        Assert.Equal("sentencepiece", tokenizer.TokenizerSpec["kind"]);
        Assert.Equal(("</s>", "<s>"), (tokenizer.EndOfTextToken, tokenizer.PrefixToken));
    }

    [Fact]
    public void MalformedYamlNamesTheFileAndLine()
    {
        const string broken = """
            models:
              - name: acme/tiny
                tags: [a, b
              - name: acme/other
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(broken, OneDeployment));
        Assert.Equal("inline/model_metadata.yaml", ex.FilePath);
        Assert.NotNull(ex.Line);
        Assert.InRange(ex.Line!.Value, 3, 4);
        Assert.StartsWith($"inline/model_metadata.yaml:{ex.Line}:", ex.Message);
        Assert.Contains("malformed YAML", ex.Message);
    }

    [Fact]
    public void BadIndentationNamesTheLineAndTheParsersComplaint()
    {
        const string broken = "models:\n - name: acme/tiny\n  bad: indentation\n";
        var ex = Assert.Throws<RegistryLoadException>(() => Load(broken, OneDeployment));
        Assert.Equal(3, ex.Line);
        Assert.Contains("did not find expected '-' indicator", ex.Message);
    }

    [Fact]
    public void WrongValueTypeNamesTheLine()
    {
        const string models = "models:\n  - name: acme/tiny\n    num_parameters: lots\n";
        var ex = Assert.Throws<RegistryLoadException>(() => Load(models, OneDeployment));
        Assert.Equal(3, ex.Line);
        Assert.Contains("invalid value", ex.Message);
        Assert.Contains("'lots'", ex.Message);
    }

    [Fact]
    public void UnknownKeyIsAnErrorWithItsLine()
    {
        const string typo = """
            models:
              - name: acme/tiny
                deployment_name: [local/tiny]
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(typo, OneDeployment));
        Assert.Equal(3, ex.Line);
        Assert.Contains("unknown key 'deployment_name'", ex.Message);
    }

    [Theory]
    [InlineData("TinyLlama/TinyLlama-1.1B-Chat-v1.0", "TinyLlama/TinyLlama-1.1B-Chat-v1.0")] // a Hub model id, resolved on load
    [InlineData("org/name-GGUF:Q8_0", "org/name-GGUF:Q8_0")]
    [InlineData("models/tiny.gguf", "/registry/models/tiny.gguf")] // a file: relative to the registry
    [InlineData("tiny.gguf", "/registry/tiny.gguf")]
    public void LocalModelPath_IsAPathOrAHubModelId(string modelPath, string expected)
    {
        var registry = ModelRegistry.Load(
            new RegistrySource("inline/model_metadata.yaml", OneModel),
            new RegistrySource("inline/model_deployments.yaml", OneDeployment.Replace("model_path: tiny.gguf", "model_path: " + modelPath)),
            baseDirectory: "/registry");
        Assert.Equal(expected, registry.FindDeployment("local/tiny")!.ClientSpec.ModelPath);
    }

    [Fact]
    public void DeploymentOfUndefinedModelIsNamed()
    {
        const string deployments = OneDeployment + """

              - name: local/ghost
                model_name: acme/ghost
                client_spec: {kind: local, model_path: ghost.gguf}
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(OneModel, deployments));
        Assert.Equal("inline/model_deployments.yaml", ex.FilePath);
        Assert.Equal("local/ghost", ex.EntryName);
        Assert.Contains("'acme/ghost'", ex.Message);
        Assert.Contains("inline/model_metadata.yaml does not define", ex.Message);
    }

    [Fact]
    public void ModelListingAnUndefinedDeploymentIsNamed()
    {
        const string models = """
            models:
              - name: acme/tiny
                deployment_names: [local/tiny, remote/tiny]
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(models, OneDeployment));
        Assert.Equal("inline/model_metadata.yaml", ex.FilePath);
        Assert.Equal("acme/tiny", ex.EntryName);
        Assert.Contains("'remote/tiny'", ex.Message);
    }

    [Fact]
    public void ModelListingAnotherModelsDeploymentIsAnError()
    {
        const string models = """
            models:
              - name: acme/tiny
              - name: acme/other
                deployment_names: [local/tiny]
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(models, OneDeployment));
        Assert.Equal("acme/other", ex.EntryName);
        Assert.Contains("serves 'acme/tiny'", ex.Message);
    }

    [Fact]
    public void UndefinedTokenizerIsNamed()
    {
        const string deployments = OneDeployment + "\n    tokenizer_name: acme/missing-tokenizer\n";
        const string tokenizers = """
            tokenizer_configs:
              - name: acme/tokenizer
                tokenizer_spec: {kind: gguf}
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(OneModel, deployments, tokenizers));
        Assert.Equal("local/tiny", ex.EntryName);
        Assert.Contains("'acme/missing-tokenizer'", ex.Message);
        Assert.Contains("inline/tokenizer_configs.yaml does not define", ex.Message);

        var noFile = Assert.Throws<RegistryLoadException>(() => Load(OneModel, deployments));
        Assert.Contains("there is no tokenizer_configs.yaml", noFile.Message);
    }

    [Fact]
    public void DuplicateNamesAreErrors()
    {
        const string models = OneModel + "\n  - name: acme/tiny\n";
        var ex = Assert.Throws<RegistryLoadException>(() => Load(models, OneDeployment));
        Assert.Equal("acme/tiny", ex.EntryName);
        Assert.Contains("defined more than once", ex.Message);
    }

    [Theory]
    [InlineData("client_spec: {kind: local}", "no model_path")]
    [InlineData("client_spec: {kind: tgi}", "needs its replicas")]
    [InlineData("client_spec: {kind: tgi, url: 'ftp://h/'}", "needs an absolute http(s) url")]
    [InlineData("client_spec: {kind: tgi, url: 'http://a/', urls: ['http://b/']}", "both url and urls")]
    [InlineData("client_spec: {kind: tgi, urls: ['http://a/', 'http://a/']}", "more than once")]
    [InlineData("client_spec: {kind: tgi, url: 'http://a/', service: 'inkwell.default:3000'}", "exactly one of them")]
    [InlineData("client_spec: {kind: tgi, service: 'Inkwell_Bad:3000'}", "expected a Kubernetes name")]
    [InlineData("client_spec: {kind: tgi, service: 'inkwell:99999'}", "bad port")]
    [InlineData("client_spec: {kind: tgi, url: 'http://a/', routing: fastest}", "routing 'fastest'")]
    [InlineData("client_spec: {kind: tgi, url: 'http://a/', load_factor: '0.5', routing: prefix_affinity}", "load_factor '0.5'")]
    [InlineData("client_spec: {kind: tgi, url: 'http://a/', prefix_chars: '100'}", "only prefix_affinity routing uses")]
    [InlineData("client_spec: {kind: local, model_path: x, urls: ['http://a/']}", "urls does not belong")]
    [InlineData("client_spec: {kind: tgi, url: 'http://h/', threads: 4}", "engine options (threads) only apply to local")]
    [InlineData("client_spec: {kind: carrier-pigeon, url: 'http://h/'}", "kind 'carrier-pigeon'")]
    [InlineData("client_spec: {model_path: x}", "needs client_spec with a kind")]
    [InlineData("client_spec: {kind: local, model_path: x}\n    max_sequence_length: 0", "max_sequence_length 0")]
    public void InvalidClientSpecsAreExplained(string specYaml, string expected)
    {
        var deployments = $"""
            model_deployments:
              - name: local/tiny
                model_name: acme/tiny
                {specYaml}
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(OneModel, deployments));
        Assert.Equal("local/tiny", ex.EntryName);
        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("access: secret", "access 'secret'")]
    [InlineData("release_date: July 2023", "release_date 'July 2023'")]
    [InlineData("num_parameters: -1", "num_parameters -1")]
    public void InvalidModelFieldsAreExplained(string fieldYaml, string expected)
    {
        var models = $"""
            models:
              - name: acme/tiny
                {fieldYaml}
            """;
        var ex = Assert.Throws<RegistryLoadException>(() => Load(models, OneDeployment));
        Assert.Equal("acme/tiny", ex.EntryName);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void NamesMustHaveTheirTwoParts()
    {
        const string models = "models:\n  - name: tiny\n";
        var ex = Assert.Throws<RegistryLoadException>(() => Load(models, "model_deployments: []"));
        Assert.Contains("'creator/engine'", ex.Message);

        const string nameless = "models:\n  - display_name: Nameless\n";
        var missing = Assert.Throws<RegistryLoadException>(() => Load(nameless, "model_deployments: []"));
        Assert.Equal("entry #1", missing.EntryName);
    }

    [Fact]
    public void MissingRequiredFileIsNamed()
    {
        var dir = Directory.CreateTempSubdirectory("inkwell-registry-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, ModelRegistry.MetadataFileName), OneModel);
            var ex = Assert.Throws<RegistryLoadException>(() => ModelRegistry.LoadFromDirectory(dir.FullName));
            Assert.Equal(Path.Combine(dir.FullName, ModelRegistry.DeploymentsFileName), ex.FilePath);
            Assert.Contains("does not exist", ex.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void EmptyFilesMakeAnEmptyRegistry()
    {
        var registry = Load("", "");
        Assert.Empty(registry.Models);
        Assert.Empty(registry.Deployments);
    }

    [Fact]
    public void ReplicasAServiceAndRoutingAreRead()
    {
        const string models = "models:\n  - name: acme/tiny\n  - name: acme/big\n";
        const string deployments = """
            model_deployments:
              - name: acme/tiny
                client_spec:
                  kind: tgi
                  urls: ["http://r1:3000/", "http://r2:3000/"]
                  routing: prefix_affinity
                  prefix_chars: "64"
                  load_factor: "1.5"
              - name: k8s/big
                model_name: acme/big
                client_spec: {kind: tgis, service: "inkwell-big.llm:8033"}
            """;
        var registry = Load(models, deployments);

        var tiny = registry.FindDeployment("acme/tiny")!;
        Assert.Equal("acme/tiny", tiny.ModelName); // HELM: model_name defaults to the deployment's name
        Assert.Equal([new Uri("http://r1:3000/"), new Uri("http://r2:3000/")], tiny.ClientSpec.Urls);
        Assert.Equal(new RoutingOptions(RoutingPolicy.PrefixAffinity, 64, 1.5), tiny.ClientSpec.Routing);

        var big = registry.FindDeployment("k8s/big")!.ClientSpec;
        Assert.Empty(big.Urls);
        Assert.Equal(new ServiceReference("inkwell-big", "llm", 8033, "grpc"), big.Service);
        Assert.Equal("inkwell-big.llm.svc.cluster.local", big.Service!.DnsName);
        Assert.Equal(RoutingPolicy.LeastOutstanding, big.Routing.Policy);
    }
}
