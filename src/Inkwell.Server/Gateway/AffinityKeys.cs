using System.Text;
using System.Text.Json.Nodes;

namespace Inkwell.Server.Gateway;

/// <summary>The text prefix affinity hashes: a prompt's first characters (TGI inputs, OpenAI prompt), or a chat's
/// leading messages (the system prompt first), role and content, up to the deployment's prefix_chars. Requests
/// that share it share their first KV blocks, so they should meet on one replica. Null when the body has none.</summary>
internal static class AffinityKeys
{
    public static string? FromTgi(JsonObject body, int prefixChars) => Leading(Text(body["inputs"]), prefixChars);

    public static string? FromOpenAI(JsonObject body, int prefixChars)
    {
        if (body["messages"] is JsonArray messages)
        {
            var key = new StringBuilder();
            foreach (var message in messages.OfType<JsonObject>())
            {
                key.Append(Text(message["role"])).Append('\n');
                if (message["content"] is JsonArray parts)
                    foreach (var part in parts.OfType<JsonObject>()) key.Append(Text(part["text"]));
                else key.Append(Text(message["content"]));
                key.Append('\n');
                if (key.Length >= prefixChars) break;
            }
            return Leading(key.ToString(), prefixChars);
        }
        var prompt = body["prompt"] is JsonArray many ? many.FirstOrDefault() : body["prompt"];
        return Leading(Text(prompt), prefixChars);
    }

    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static string? Leading(string? text, int prefixChars) =>
        string.IsNullOrEmpty(text) ? null : text.Length <= prefixChars ? text : text[..prefixChars];
}
