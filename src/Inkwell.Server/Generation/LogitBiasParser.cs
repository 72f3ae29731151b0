using System.Globalization;

namespace Inkwell.Server.Generation;

/// <summary>OpenAI's logit_bias shape ({"token id": bias from -100 to 100}), shared by the OpenAI and TGI adapters.</summary>
public static class LogitBiasParser
{
    public const float MaxBias = 100f;

    /// <summary>The bias by token id; <paramref name="error"/> makes the API's exception from a message (keys must be ids, values in range).</summary>
    public static IReadOnlyDictionary<int, float>? Parse(IReadOnlyDictionary<string, float>? bias, Func<string, Exception> error)
    {
        if (bias is null || bias.Count == 0) return null;
        var ids = new Dictionary<int, float>(bias.Count);
        foreach (var (key, value) in bias)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int id)) throw error($"keys must be token ids; got '{key}'");
            if (!(value >= -MaxBias && value <= MaxBias)) throw error($"values must be between -100 and 100; got {value} for token {key}");
            ids[id] = value;
        }
        return ids;
    }
}
