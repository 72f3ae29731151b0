using Inkwell.Client.Registry;
using static Inkwell.Client.Tests.Registry.RegistryFixtures;

namespace Inkwell.Client.Tests.Registry;

/// <summary>One test per resolution rule, over the fixture registry.</summary>
public class ModelRegistryResolveTests
{
    private readonly ModelRegistry _registry = LoadValid();

    [Fact]
    public void DeploymentNamedLikeTheModelWinsWithoutWarning()
    {
        // deployment_names lists local/llama-2-7b first; the exact name still wins
        var resolution = _registry.Resolve("meta/llama-2-7b");
        Assert.Equal("meta/llama-2-7b", resolution.Deployment.Name);
        Assert.Equal("meta/llama-2-7b", resolution.Model.Name);
        Assert.Null(resolution.Warning);
    }

    [Fact]
    public void OtherwiseFirstNonDeprecatedDeploymentIsChosenWithAWarningNamingIt()
    {
        var resolution = _registry.Resolve("karpathy/stories260k");
        Assert.Equal("local/stories260k", resolution.Deployment.Name); // old/stories260k is first but deprecated
        Assert.NotNull(resolution.Warning);
        Assert.Contains("chose 'local/stories260k'", resolution.Warning);
        Assert.Contains("'old/stories260k'", resolution.Warning);
    }

    [Fact]
    public void ExplicitDeploymentIsUsed()
    {
        var resolution = _registry.Resolve("karpathy/stories260k", "tgi/stories260k");
        Assert.Equal("tgi/stories260k", resolution.Deployment.Name);
        Assert.Null(resolution.Warning);
    }

    [Fact]
    public void ExplicitDeprecatedDeploymentIsUsedWithAWarning()
    {
        var resolution = _registry.Resolve("karpathy/stories260k", "old/stories260k");
        Assert.Equal("old/stories260k", resolution.Deployment.Name);
        Assert.Contains("deprecated", resolution.Warning);
    }

    [Fact]
    public void UniqueSuffixesResolve()
    {
        var resolution = _registry.Resolve("stories260k", "local/stories260k");
        Assert.Equal("karpathy/stories260k", resolution.Model.Name);
    }

    [Fact]
    public void ModelWithoutDeploymentIsAnError()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve("acme/undeployed"));
        Assert.Contains("Model 'acme/undeployed' has no deployment", ex.Message);
    }

    [Fact]
    public void ModelWhoseDeploymentsAreAllDeprecatedFallsBackToTheFirstWithAWarning()
    {
        // HELM's get_default_model_deployment_for_model: no non-deprecated deployment -> the first one, warned.
        var resolution = _registry.Resolve("acme/retired");
        Assert.Equal("old/retired", resolution.Deployment.Name);
        Assert.Contains("Every deployment of model 'acme/retired' is deprecated", resolution.Warning);
    }

    [Fact]
    public void DeploymentAloneResolvesToTheModelItServes()
    {
        var resolution = _registry.Resolve(null, "tgi/stories260k");
        Assert.Equal("karpathy/stories260k", resolution.Model.Name);
        Assert.Equal("tgi/stories260k", resolution.Deployment.Name);
        Assert.Null(resolution.Warning);
    }

    [Fact]
    public void NeitherNameIsAnError()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve(null, null));
        Assert.Equal(ResolutionFailure.Unnamed, ex.Failure);
    }

    [Fact]
    public void DeploymentServingAnotherModelIsAnError()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve("meta/llama-2-7b", "local/stories260k"));
        Assert.Equal(ResolutionFailure.Mismatch, ex.Failure);
        Assert.Contains("Deployment 'local/stories260k' serves model 'karpathy/stories260k', not 'meta/llama-2-7b'", ex.Message);
    }

    [Fact]
    public void UnknownModelIsAnErrorListingKnownOnes()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve("acme/nope"));
        Assert.Contains("Unknown model 'acme/nope'", ex.Message);
        Assert.Contains("'meta/llama-2-7b'", ex.Message);
    }

    [Fact]
    public void UnknownDeploymentIsAnError()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve("meta/llama-2-7b", "mars/llama-2-7b"));
        Assert.Contains("Unknown deployment 'mars/llama-2-7b'", ex.Message);
    }

    [Fact]
    public void DeploymentSuffixMatchingSeveralIsAmbiguous()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve("karpathy/stories260k", "stories260k"));
        Assert.Contains("Ambiguous deployment 'stories260k'", ex.Message);
        Assert.Contains("'local/stories260k'", ex.Message);
        Assert.Contains("'tgi/stories260k'", ex.Message);
    }

    [Fact]
    public void ModelSuffixMatchingSeveralIsAmbiguous()
    {
        var ex = Assert.Throws<ModelResolutionException>(() => _registry.Resolve("llama-2-7b"));
        Assert.Contains("Ambiguous model 'llama-2-7b'", ex.Message);
        Assert.Contains("'community/llama-2-7b'", ex.Message);
    }
}
