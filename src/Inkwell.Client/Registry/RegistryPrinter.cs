using System.Globalization;
using System.Text;

namespace Inkwell.Client.Registry;

/// <summary>Text for `inkwell models`: each model with its facts, then its deployments in order of
/// preference, marking the one Resolve picks by default and the deprecated ones.</summary>
public static class RegistryPrinter
{
    public static string Format(ModelRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Count(registry.Models.Count, "model")}, {Count(registry.Deployments.Count, "deployment")}\n");
        foreach (var model in registry.Models)
        {
            text.Append('\n');
            var facts = new List<string> { model.Access.ToString().ToLowerInvariant() };
            if (model.NumParameters is { } n) facts.Add(FormatParameters(n) + " params");
            if (model.ReleaseDate is { } date) facts.Add("released " + date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            if (model.CreatorOrganization is { } org) facts.Add("by " + org);
            text.Append(CultureInfo.InvariantCulture, $"{model.Name}  \"{model.DisplayName}\"  ({string.Join(", ", facts)})\n");
            if (model.Tags.Count > 0) text.Append(CultureInfo.InvariantCulture, $"    tags: {string.Join(", ", model.Tags)}\n");

            var deployments = registry.DeploymentsOf(model);
            if (deployments.Count == 0)
            {
                text.Append("    (no deployments)\n");
                continue;
            }
            var chosen = DefaultDeployment(registry, model);
            var nameWidth = deployments.Max(d => d.Name.Length);
            foreach (var deployment in deployments)
            {
                var marker = deployment.Name == chosen ? "*" : " ";
                var spec = deployment.ClientSpec;
                var notes = new List<string>();
                if (deployment.Name == chosen) notes.Add("default");
                if (deployment.Deprecated) notes.Add("deprecated");
                if (deployment.MaxSequenceLength is { } max) notes.Add("max_sequence_length " + max.ToString(CultureInfo.InvariantCulture));
                var suffix = notes.Count > 0 ? $"  [{string.Join(", ", notes)}]" : "";
                text.Append(CultureInfo.InvariantCulture,
                    $"  {marker} {deployment.Name.PadRight(nameWidth)}  {spec.Kind.ToString().ToLowerInvariant(),-6}  {spec.Target}{suffix}\n");
            }
        }
        return text.ToString();
    }

    /// <summary>"7B", "1.3B", "260K", "125M".</summary>
    public static string FormatParameters(long count) => count switch
    {
        >= 1_000_000_000_000 => Scaled(count, 1e12, "T"),
        >= 1_000_000_000 => Scaled(count, 1e9, "B"),
        >= 1_000_000 => Scaled(count, 1e6, "M"),
        >= 1_000 => Scaled(count, 1e3, "K"),
        _ => count.ToString(CultureInfo.InvariantCulture),
    };

    private static string Scaled(long count, double unit, string suffix) =>
        (count / unit).ToString("0.#", CultureInfo.InvariantCulture) + suffix;

    private static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    private static string? DefaultDeployment(ModelRegistry registry, ModelMetadata model)
    {
        try
        {
            return registry.Resolve(model.Name).Deployment.Name;
        }
        catch (ModelResolutionException)
        {
            return null; // a model without deployments: nothing is picked
        }
    }
}
