using System.Text.Json;

namespace Inkwell.Client.Http;

/// <summary>Reads the error text and type from TGI's {"error": "...", "error_type": "..."} or
/// OpenAI's {"error": {"message": "...", "type": "..."}}.</summary>
internal static class ErrorBody
{
    public static (string Message, string? ErrorType)? TryParse(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return TryRead(doc.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static (string Message, string? ErrorType)? TryRead(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error)) return null;
        switch (error.ValueKind)
        {
            case JsonValueKind.String:
                return (error.GetString() ?? "", StringOrNull(root, "error_type"));
            case JsonValueKind.Object:
                var message = StringOrNull(error, "message") ?? error.GetRawText();
                return (message, StringOrNull(error, "type") ?? StringOrNull(error, "code"));
            case JsonValueKind.Null:
                return null; // some servers send "error": null on success chunks
            default:
                return (error.GetRawText(), StringOrNull(root, "error_type"));
        }
    }

    private static string? StringOrNull(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
