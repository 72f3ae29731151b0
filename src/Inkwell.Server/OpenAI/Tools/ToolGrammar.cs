using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Engine.Grammar;
using Inkwell.Server.Grammar;

namespace Inkwell.Server.OpenAI.Tools;

/// <summary>
/// The grammar a tool_choice constrains the output with (compiled by the same JSON-schema path as response_format):
/// a named function's output is its arguments, one JSON value of its parameters' schema; "required" is vLLM's
/// required mode, {"name": one tool's name, "arguments": that tool's parameters} as anyOf over the tools, in a JSON
/// array of one or more calls when parallel calls are allowed, a single object otherwise. "auto" and "none" have none.
/// </summary>
public static class ToolGrammar
{
    public static (GrammarSpec Spec, string Param)? For(ToolPlan plan)
    {
        switch (plan.Mode)
        {
            case ToolChoiceMode.Named:
                var tool = plan.Find(plan.NamedFunction!)!;
                return (GrammarService.SchemaSpec(tool.Parameters ?? default), $"tools[{tool.Index}].function.parameters");
            case ToolChoiceMode.Required:
                var calls = new JsonArray();
                foreach (var t in plan.Tools)
                    calls.Add(CallSchema(t, plan.ParallelCalls ? $"#/items/anyOf/{calls.Count}" : $"#/anyOf/{calls.Count}"));
                JsonObject schema = plan.ParallelCalls
                    ? new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = new JsonObject { ["anyOf"] = calls } }
                    : new JsonObject { ["anyOf"] = calls };
                return (new GrammarSpec(GrammarKind.JsonSchema, schema.ToJsonString()), "tools");
            default:
                return null;
        }
    }

    /// <summary>{"name": const, "arguments": parameters}; the parameters' own "#..." $refs are re-rooted where they now sit.</summary>
    private static JsonObject CallSchema(ToolDefinition tool, string callPath)
    {
        JsonNode arguments = tool.Parameters is { } p ? JsonNode.Parse(p.GetRawText())! : new JsonObject { ["type"] = "object" };
        RebaseReferences(arguments, callPath + "/properties/arguments");
        return new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["name"] = new JsonObject { ["const"] = tool.Name }, ["arguments"] = arguments },
            ["required"] = new JsonArray("name", "arguments"),
        };
    }

    private static void RebaseReferences(JsonNode? node, string root)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (key == "$ref" && value is JsonValue v && v.TryGetValue(out string? reference) && reference.StartsWith('#'))
                        obj[key] = root + reference[1..];
                    else RebaseReferences(value, root);
                }
                break;
            case JsonArray array:
                foreach (var item in array) RebaseReferences(item, root);
                break;
        }
    }
}
