using System.Text.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.OpenAI;
using Inkwell.Server.OpenAI.Tools;
using Inkwell.Templates;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.OpenAI.Tools;

/// <summary>
/// The server's path from an OpenAI request to the prompt: messages as a client sends them (arguments as JSON text,
/// null content beside tool_calls) become what Hugging Face passes a template, so the prompt equals jinja2's render of
/// the same conversation (tests/data/templates/expected-tools.json); templates that do not read tools get the
/// instruction and the Hermes blocks, written out here.
/// </summary>
public sealed class ToolPromptTests
{
    private static string Render(string templateFile, JsonObject request, string bos, string eos)
    {
        var dto = request.Deserialize<ChatCompletionRequestDto>(OpenAIJson.Options)!;
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.InShared("templates", templateFile)));
        var plan = ToolPlanParser.Parse(dto.Tools, dto.ToolChoice, dto.ParallelToolCalls);
        var (messages, variables) = ToolPrompt.Prepare(ChatMessages.ToTemplate(dto.Messages!), plan, template);
        return template.RenderDictionaries(messages, addGenerationPrompt: true, bos, eos, variables);
    }

    /// <summary>tool-conversation.json as an OpenAI client sends it: arguments as a JSON string, the assistant's content null.</summary>
    private static JsonObject OpenAIRequest()
    {
        var conversation = JsonNode.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "tool-conversation.json")))!.AsObject();
        foreach (var message in conversation["messages"]!.AsArray())
        {
            if (message!["tool_calls"] is not JsonArray calls) continue;
            message["content"] = null;
            foreach (var call in calls) call!["function"]!["arguments"] = call["function"]!["arguments"]!.ToJsonString();
        }
        return new JsonObject { ["model"] = "m", ["messages"] = conversation["messages"]!.DeepClone(), ["tools"] = conversation["tools"]!.DeepClone() };
    }

    [SharedTheory]
    [InlineData("Qwen-Qwen2.5-7B-Instruct")]
    [InlineData("meta-llama-Llama-3.1-8B-Instruct")]
    [InlineData("mistralai-Mistral-Nemo-Instruct-2407")]
    public void An_openai_request_renders_as_jinja2_renders_the_hugging_face_conversation(string name)
    {
        var expected = JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "data", "templates", "expected-tools.json"))).RootElement.GetProperty(name);
        string prompt = Render(name + ".jinja", OpenAIRequest(), expected.GetProperty("bos_token").GetString()!, expected.GetProperty("eos_token").GetString()!);
        Assert.Equal(expected.GetProperty("expected").GetString(), prompt);
    }

    private static JsonObject SmallRequest(string toolChoice = "auto") => JsonNode.Parse("""
        {"model": "m", "tool_choice": "TOOL_CHOICE",
         "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
         "messages": [
          {"role": "system", "content": "You are a helpful assistant."},
          {"role": "user", "content": "Weather in Paris?"},
          {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
          {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
          {"role": "tool", "tool_call_id": "call_2", "content": "18C"}
         ]}
        """.Replace("TOOL_CHOICE", toolChoice))!.AsObject();

    private const string Instruction =
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
        """{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}""" +
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
        "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";

    [SharedFact]
    public void A_template_without_tools_gets_them_in_the_system_prompt_and_calls_and_results_as_hermes_blocks()
    {
        string prompt = Render("microsoft-Phi-3.5-mini-instruct.jinja", SmallRequest(), "<s>", "<|endoftext|>");
        Assert.Equal(
            "<|system|>\nYou are a helpful assistant.\n\n" + Instruction + "<|end|>\n" +
            "<|user|>\nWeather in Paris?<|end|>\n" +
            "<|assistant|>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call><|end|>\n" +
            "<|user|>\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n18C\n</tool_response><|end|>\n" +
            "<|assistant|>\n",
            prompt);
    }

    [SharedFact]
    public void With_tool_choice_none_no_instruction_is_added()
    {
        string prompt = Render("microsoft-Phi-3.5-mini-instruct.jinja", SmallRequest("none"), "<s>", "<|endoftext|>");
        Assert.StartsWith("<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nWeather in Paris?<|end|>\n", prompt);
        Assert.DoesNotContain("# Tools", prompt);
    }

    [SharedFact]
    public void Gemma_keeps_its_alternating_turns()
    {
        // No system role and a strict user/assistant alternation: the instruction joins the first user turn, the
        // two results share one user turn.
        string prompt = Render("google-gemma-2-2b-it.jinja", SmallRequest(), "<bos>", "<eos>");
        Assert.Equal(
            "<bos><start_of_turn>user\nYou are a helpful assistant.\n\n" + Instruction + "\nWeather in Paris?<end_of_turn>\n" +
            "<start_of_turn>model\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call><end_of_turn>\n" +
            "<start_of_turn>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n18C\n</tool_response><end_of_turn>\n" +
            "<start_of_turn>model\n",
            prompt);
    }
}
