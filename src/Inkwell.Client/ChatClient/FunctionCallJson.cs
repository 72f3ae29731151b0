using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.ChatClient;

/// <summary>Function-call arguments and results as the wire carries them (JSON text), through Microsoft.Extensions.AI's
/// own serializer options, so arguments come back as the JsonElement values AIFunction binds and any .NET value a
/// caller puts in goes out as that library would write it.</summary>
internal static class FunctionCallJson
{
    private static JsonSerializerOptions Options => AIJsonUtilities.DefaultOptions;

    public static string SerializeArguments(IDictionary<string, object?>? arguments) =>
        arguments is null ? "{}" : JsonSerializer.Serialize(arguments, Options.GetTypeInfo(typeof(IDictionary<string, object>)));

    public static string SerializeResult(object result) => JsonSerializer.Serialize(result, Options.GetTypeInfo(typeof(object)));

    /// <summary>A call from the wire; arguments that are not a JSON object leave Arguments null and the parse error in
    /// Exception (Microsoft.Extensions.AI's convention; FunctionInvokingChatClient reports it back to the model).</summary>
    public static FunctionCallContent ToCallContent(string callId, string name, string? arguments) =>
        FunctionCallContent.CreateFromParsedArguments(arguments ?? "", callId, name,
            static json => (IDictionary<string, object?>?)JsonSerializer.Deserialize(json, Options.GetTypeInfo(typeof(IDictionary<string, object>))));
}
