using System.Text.Json.Serialization;
using Inkwell.Client.OpenAI;
using Inkwell.Client.Tgi;

namespace Inkwell.Client;

/// <summary>Source-generated JSON for every wire type: snake_case as TGI and OpenAI spell it, nulls omitted
/// so the server applies its own defaults.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GenerateRequest))]
[JsonSerializable(typeof(GenerateResponse))]
[JsonSerializable(typeof(StreamResponse))]
[JsonSerializable(typeof(IReadOnlyList<SimpleToken>))]
[JsonSerializable(typeof(ServerInfo))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(string))]
public sealed partial class ClientJsonContext : JsonSerializerContext;
