using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>One request the fuzzer sends: route, raw body bytes and content type, and a printable form for failure reports.</summary>
public sealed record FuzzCase(string Path, byte[] Body, string? ContentType)
{
    public override string ToString() => $"POST {Path} [{ContentType ?? "no content type"}] {ApiShape.Clip(Encoding.UTF8.GetString(Body))}";
}

/// <summary>
/// Generators of hostile request bodies: a valid request of the route with a few fields replaced by arbitrary JSON
/// (extreme numbers, lone surrogate escapes, wrong types, deep nesting), sometimes with bytes then corrupted, and
/// sometimes sent under another content type.
/// </summary>
public static class FuzzCases
{
    /// <summary>Replaced after serialization by a lone surrogate escape, which no JSON writer will produce.</summary>
    public const string LoneSurrogateMarker = "\u0001LONE\u0001";

    public static readonly string[] TgiParameters =
    [
        "best_of", "temperature", "repetition_penalty", "frequency_penalty", "top_k", "top_p", "typical_p", "do_sample",
        "max_new_tokens", "return_full_text", "stop", "truncate", "watermark", "details", "decoder_input_details", "seed",
        "top_n_tokens", "grammar", "adapter_id", "min_new_tokens", "ignore_eos", "logit_bias",
    ];

    public static readonly string[] OpenAIFields =
    [
        "model", "prompt", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop", "seed",
        "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "echo", "best_of", "suffix", "stream",
        "stream_options", "response_format", "user", "guided_choice", "guided_regex", "guided_json", "min_tokens",
        "ignore_eos", "logit_bias", "truncate_prompt_tokens",
    ];

    private static readonly Gen<JsonNode?> Ints = Gen.Frequency(
        (5, Gen.Int[-2, 12].Select(i => (JsonNode?)JsonValue.Create(i))),
        (2, Gen.OneOf<long>(0, -1, 511, 512, 4096, 1 << 20, int.MaxValue, int.MaxValue - 1, int.MinValue, 1L << 31, long.MaxValue, uint.MaxValue)
            .Select(i => (JsonNode?)JsonValue.Create(i))));

    private static readonly Gen<JsonNode?> Floats = Gen.Frequency(
        (4, Gen.Double[-3, 3].Select(d => (JsonNode?)JsonValue.Create(Math.Round(d, 3)))),
        (1, Gen.OneOf(0.0, 1.0, 1e-45, 1e38, 3.5e38, -1e308, 1e308, 0.05, 0.9999999).Select(d => (JsonNode?)JsonValue.Create(d))),
        (1, Gen.OneOf("NaN", "Infinity", "-Infinity").Select(s => (JsonNode?)JsonValue.Create(s))));

    public static readonly Gen<string> Text = Gen.Frequency(
        (5, Gen.String[Gen.Char[" abcdefghijklmnopqrstuvwxyz.,!?"], 0, 24]),
        (1, Gen.String[Gen.Char, 0, 12]),
        (2, Gen.OneOf("", LoneSurrogateMarker, "a" + LoneSurrogateMarker + "b", "\0", "NaN", "{", "\"", "\\", ".*", "(a|b",
            "[", "a{1000000}", "((((((((((a*)*)*)*)*)*)*)*)*)*)", "\u202e", "😀", "Once upon a time", "<|im_start|>", "{{ x }}",
            "../../etc/passwd", new string('a', 3000), string.Concat(Enumerable.Repeat("Once upon a time ", 400)))));

    private static readonly Gen<JsonNode?> Strings = Text.Select(s => (JsonNode?)JsonValue.Create(s));

    private static readonly Gen<JsonNode?> Scalars = Gen.Frequency(
        (1, Gen.Const((JsonNode?)null)),
        (1, Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b))),
        (3, Ints), (2, Floats), (3, Strings));

    /// <summary>Schemas and grammars: plausible ones, hostile ones, and garbage.</summary>
    private static readonly Gen<JsonNode?> Grammars = Gen.OneOf(
        Gen.OneOf(
            """{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}""",
            """{"type": "string", "pattern": "x)|(.*"}""",
            """{"enum": ["a", "b", 1, null]}""",
            """{"$ref": "#"}""",
            """{"type": "array", "items": {"type": "number"}, "maxItems": 3}""",
            """{"type": "string", "maxLength": 1000000}""",
            """{"type": "integer", "minimum": 9007199254740993}""").Select(s => JsonNode.Parse(s)),
        Scalars);

    private static Gen<JsonNode?> Values(int depth) => depth == 0
        ? Scalars
        : Gen.Frequency(
            (6, Scalars),
            (1, Values(depth - 1).Array[0, 4].Select(a => (JsonNode?)new JsonArray(a.Select(n => n?.DeepClone()).ToArray()))),
            (1, Gen.Select(Text.Array[0, 3], Values(depth - 1).Array[3]).Select(t =>
            {
                var o = new JsonObject();
                for (int i = 0; i < t.Item1.Length; i++) o[t.Item1[i].Replace(LoneSurrogateMarker, "k")] = t.Item2[i]?.DeepClone();
                return (JsonNode?)o;
            })),
            (1, Grammars));

    private static readonly Gen<JsonNode?> AnyValue = Values(2);

    /// <summary>A field name: mostly the route's own, sometimes an unknown one.</summary>
    private static Gen<string> Field(string[] known) => Gen.Frequency((9, Gen.OneOf(known)), (1, Text.Select(t => t.Replace(LoneSurrogateMarker, "x"))));

    private static Gen<(string Field, JsonNode? Value)[]> Edits(string[] known) => Gen.Select(Field(known), AnyValue).Array[0, 4];

    /// <summary>How the serialized body is then damaged: not at all (mostly), bytes flipped, cut short; and its content type.</summary>
    private static readonly Gen<(int Mode, int[] Positions, byte[] Bytes, string? ContentType)> Raw =
        from mode in Gen.Frequency((12, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)), (1, Gen.Const(3)))
        from positions in Gen.Int[0, int.MaxValue].Array[1, 3]
        from bytes in Gen.Byte.Array[3]
        from contentType in Gen.Frequency(
            (20, Gen.Const<string?>("application/json")),
            (1, Gen.OneOf<string?>(null, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1",
                "application/merge-patch+json", "application/json; charset=utf-8", "*/*", "application/")))
        select (mode, positions, bytes, contentType);

    /// <summary>TGI: /generate, /generate_stream, / and /tokenize; edits land in parameters or at the top level.</summary>
    public static readonly Gen<FuzzCase> Tgi =
        from path in Gen.OneOf("/generate", "/generate_stream", "/", "/tokenize")
        from inputs in Gen.Frequency((3, Gen.Const("Once upon a time")), (1, Text))
        from stream in Gen.Bool
        from edits in Edits(TgiParameters)
        from top in Gen.Select(Gen.OneOf("inputs", "parameters", "stream"), AnyValue).Array[0, 1]
        from raw in Raw
        select Build(path, () =>
        {
            var parameters = new JsonObject { ["max_new_tokens"] = 4 };
            foreach (var (field, value) in edits) parameters[field] = value?.DeepClone();
            var body = new JsonObject { ["inputs"] = inputs, ["parameters"] = parameters, ["stream"] = stream };
            foreach (var (field, value) in top) body[field] = value?.DeepClone();
            return body;
        }, raw);

    /// <summary>OpenAI: /v1/completions and /v1/chat/completions.</summary>
    public static readonly Gen<FuzzCase> OpenAI =
        from chat in Gen.Bool
        from prompt in Gen.Frequency((3, Gen.Const("Once upon a time")), (1, Text))
        from stream in Gen.Bool
        from edits in Edits(OpenAIFields)
        from raw in Raw
        select Build(chat ? "/v1/chat/completions" : "/v1/completions", () =>
        {
            var body = new JsonObject { ["model"] = "m", ["max_tokens"] = 4, ["stream"] = stream };
            if (chat) body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt });
            else body["prompt"] = prompt;
            foreach (var (field, value) in edits) body[field] = value?.DeepClone();
            return body;
        }, raw);

    private static FuzzCase Build(string path, Func<JsonObject> body, (int Mode, int[] Positions, byte[] Bytes, string? ContentType) raw)
    {
        string json = body().ToJsonString().Replace(System.Text.Json.JsonSerializer.Serialize(LoneSurrogateMarker)[1..^1], "\\ud800");
        var bytes = Encoding.UTF8.GetBytes(json).ToList();
        switch (raw.Mode)
        {
            case 1: // overwrite a few bytes (often not UTF-8, often not JSON)
                for (int i = 0; i < raw.Positions.Length; i++) bytes[raw.Positions[i] % bytes.Count] = raw.Bytes[i];
                break;
            case 2: // cut short
                bytes.RemoveRange(raw.Positions[0] % bytes.Count, bytes.Count - raw.Positions[0] % bytes.Count);
                break;
            case 3: // nest deeply
                bytes.InsertRange(0, Enumerable.Repeat((byte)'[', 200 + raw.Positions[0] % 800));
                break;
        }
        return new FuzzCase(path, [.. bytes], raw.ContentType);
    }
}
