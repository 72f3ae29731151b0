using System.Text.Json;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>Which documented error shape a route answers in: TGI's {"error", "error_type"} or OpenAI's {"error": {...}}.</summary>
public enum Shape { Tgi, OpenAI }

/// <summary>The error-body checks every reliability test shares; they return a reason instead of throwing, so the fuzzer can report it.</summary>
public static class ApiShape
{
    public static Shape Of(string path) => path.StartsWith("/v1/", StringComparison.Ordinal) ? Shape.OpenAI : Shape.Tgi;

    /// <summary>Null when <paramref name="body"/> is an error in the shape's documented form, else what is wrong.</summary>
    public static string? ErrorProblem(Shape shape, string body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return $"the error body is not JSON: '{Clip(body)}'";
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error)) return $"no \"error\" member: {Clip(body)}";
            if (shape == Shape.Tgi)
            {
                bool ok = error.ValueKind == JsonValueKind.String && error.GetString()!.Length > 0
                    && root.TryGetProperty("error_type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString()!.Length > 0;
                return ok ? null : $"not TGI's {{error, error_type}}: {Clip(body)}";
            }
            bool openAI = error.ValueKind == JsonValueKind.Object
                && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String && message.GetString()!.Length > 0
                && error.TryGetProperty("type", out var kind) && kind.ValueKind == JsonValueKind.String
                && error.TryGetProperty("param", out _) && error.TryGetProperty("code", out _);
            return openAI ? null : $"not OpenAI's {{error: {{message, type, param, code}}}}: {Clip(body)}";
        }
    }

    public static void AssertError(Shape shape, string body)
    {
        if (ErrorProblem(shape, body) is { } problem) Assert.Fail(problem);
    }

    /// <summary>No stack frames, no server paths: what an error body must never carry.</summary>
    public static void AssertNoInternals(string body)
    {
        Assert.DoesNotContain("   at ", body);
        Assert.DoesNotContain(".cs:line", body);
        Assert.DoesNotContain("Exception", body);
    }

    public static string Clip(string text) => text.Length <= 300 ? text : text[..300] + "...";
}
