using System.Text.Json;
using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Templates;
using Inkwell.Models.Tokenizers;
using Inkwell.Server.Generation;
using Inkwell.Server.OpenAI.Tools;

namespace Inkwell.Server.OpenAI;

/// <summary>An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with an HTTP status.</summary>
public sealed class OpenAIException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public OpenAIErrorDto ToDto() => new(new OpenAIErrorBodyDto(Message, Type, Param, Code));

    public static OpenAIException Invalid(string param, string message, string? code = "invalid_value") => new(400, message, param: param, code: code);
}

/// <summary>One prompt: its text (for echo), and its token ids when the client sent ids (text is tokenized by the service).</summary>
public sealed record OpenAIPrompt(string Text, IReadOnlyList<int>? Tokens);

/// <summary>What both routes share once validated: sampling, stopping and output options, and the grammar to compile.</summary>
public sealed record OpenAIPlan
{
    public required IReadOnlyList<OpenAIPrompt> Prompts { get; init; }
    /// <summary>False for a rendered chat template, which writes BOS itself.</summary>
    public bool AddSpecialTokens { get; init; } = true;
    public required int N { get; init; }
    public required int? MaxTokens { get; init; }
    public required int DefaultMaxTokens { get; init; }
    public int MinTokens { get; init; }
    public bool IgnoreEos { get; init; }
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }
    public int? TruncatePromptTokens { get; init; }
    public required SamplingParameters Sampling { get; init; }
    public required ulong? Seed { get; init; }
    public required IReadOnlyList<string> Stop { get; init; }
    /// <summary>Top alternatives per token to report; null = no logprobs at all.</summary>
    public int? Logprobs { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public bool Echo { get; init; }
    public GrammarSpec? Grammar { get; init; }
    public string? GrammarParam { get; init; }
    /// <summary>The LoRA adapter the request's `model` names (null = the base model).</summary>
    public string? AdapterId { get; init; }
    /// <summary>Tools whose calls are read from the output (null: none offered, or tool_choice "none").</summary>
    public ToolPlan? ToolCalls { get; init; }
    /// <summary>Hand out 9-character call ids (the chat template accepts no others).</summary>
    public bool NineCharacterToolCallIds { get; init; }
}

/// <summary>
/// OpenAI's request rules (ranges and messages as the API documents them) over our limits: turns a chat or completions
/// body into an <see cref="OpenAIPlan"/>, or throws <see cref="OpenAIException"/> (400 invalid_request_error).
/// Token counts and the context limit are the generation service's, after the permit.
/// </summary>
public sealed class OpenAIValidator(Tokenizer tokenizer)
{
    private const int MaxN = 128;
    private const int MaxStop = 4;
    private const int MaxChatTopLogprobs = 20;
    private const int MaxCompletionLogprobs = 5;
    private const int CompletionsDefaultMaxTokens = 16;

    /// <summary>A single-model server serves whatever name the client uses (as TGI and llama-server do); the gateway is strict.</summary>
    public static void CheckModel(string? model)
    {
        if (string.IsNullOrEmpty(model)) throw OpenAIException.Invalid("model", "you must provide a model parameter", code: null);
    }

    public OpenAIPlan Chat(ChatCompletionRequestDto r, ChatTemplate? template, string? templateProblem)
    {
        CheckModel(r.Model);
        if (r.Messages is not { Count: > 0 } messages) throw OpenAIException.Invalid("messages", "`messages` must be a non-empty array of messages", code: null);
        RefuseDeprecatedFunctionCalling(r);
        var tools = ToolPlanParser.Parse(r.Tools, r.ToolChoice, r.ParallelToolCalls);
        if (template is null) throw new OpenAIException(400, templateProblem ?? "this model has no chat template", param: "messages", code: "chat_template_missing");
        var (turns, variables) = ToolPrompt.Prepare(ChatMessages.ToTemplate(messages), tools, template);
        string prompt;
        try
        {
            prompt = template.RenderDictionaries(turns, addGenerationPrompt: true, Text(tokenizer.BosId), Text(tokenizer.EosId), variables);
        }
        catch (TemplateException e)
        {
            throw OpenAIException.Invalid("messages", "the chat template could not render these messages: " + e.Message, code: null);
        }

        if (r.TopLogprobs is { } tl && (tl < 0 || tl > MaxChatTopLogprobs))
            throw OpenAIException.Invalid("top_logprobs", $"Invalid 'top_logprobs': integer out of range. Expected a value between 0 and {MaxChatTopLogprobs}, but got {tl} instead.");
        if (r.TopLogprobs is > 0 && r.Logprobs != true)
            throw OpenAIException.Invalid("top_logprobs", "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is specified.");
        int? maxTokens = r.MaxCompletionTokens ?? r.MaxTokens;
        string maxParam = r.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        // The template writes the BOS text itself where the model wants one (Hugging Face's apply_chat_template
        // tokenizes without adding special tokens).
        return Common(
            [new OpenAIPrompt(prompt, null)], maxTokens, maxParam, defaultMaxTokens: int.MaxValue,
            r.Temperature, r.TopP, r.N, r.Stop, r.Seed, r.PresencePenalty, r.FrequencyPenalty, r.MinTokens, r.IgnoreEos, r.LogitBias, r.TruncatePromptTokens, r.TopK, r.RepetitionPenalty,
            r.Logprobs == true ? r.TopLogprobs ?? 0 : null, r.Stream == true, r.StreamOptions,
            ChatGrammar(r, tools)) with
        {
            AddSpecialTokens = false,
            ToolCalls = tools is { ParsesCalls: true } ? tools : null,
            NineCharacterToolCallIds = template.RequiresNineCharacterToolCallIds,
        };
    }

    /// <summary>
    /// The output's one grammar: a named or required tool_choice's, or response_format / guided_*. Both at once would
    /// be two constraints on one output, so that is refused; with "auto" the format constrains the whole output and
    /// calls are still read from it.
    /// </summary>
    private static (GrammarSpec Spec, string Param)? ChatGrammar(ChatCompletionRequestDto r, ToolPlan? tools)
    {
        var format = Grammar(r.ResponseFormat, r.GuidedChoice, r.GuidedRegex, r.GuidedJson);
        var forTools = tools is null ? null : ToolGrammar.For(tools);
        if (forTools is not null && format is { } f)
            throw OpenAIException.Invalid(f.Param, $"'{f.Param}' cannot be combined with tool_choice 'required' or a named function: the tool call already constrains the output", code: "unsupported_value");
        return forTools ?? format;
    }

    /// <summary>`functions` / `function_call` were replaced by `tools` / `tool_choice`; refused rather than ignored.</summary>
    private static void RefuseDeprecatedFunctionCalling(ChatCompletionRequestDto r)
    {
        if (r.Functions.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            throw OpenAIException.Invalid("functions", "the deprecated 'functions' parameter is not supported: send 'tools' (each {\"type\": \"function\", \"function\": ...}) instead", code: "unsupported_value");
        if (r.FunctionCall.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
            throw OpenAIException.Invalid("function_call", "the deprecated 'function_call' parameter is not supported: send 'tool_choice' instead", code: "unsupported_value");
    }

    public OpenAIPlan Completion(CompletionRequestDto r)
    {
        CheckModel(r.Model);
        var prompts = Prompts(r.Prompt);
        if (r.Logprobs is { } lp && (lp < 0 || lp > MaxCompletionLogprobs))
            throw OpenAIException.Invalid("logprobs", $"Invalid 'logprobs': integer out of range. Expected a value between 0 and {MaxCompletionLogprobs}, but got {lp} instead.");
        if (r.BestOf is { } bo && bo != (r.N ?? 1))
            throw OpenAIException.Invalid("best_of", "`best_of` other than `n` is not supported", code: "unsupported_value");
        if (!string.IsNullOrEmpty(r.Suffix)) throw OpenAIException.Invalid("suffix", "`suffix` is not supported by this model", code: "unsupported_value");
        if (r.Echo == true && r.Logprobs is not null)
            throw OpenAIException.Invalid("echo", "`echo` together with `logprobs` is not supported (prompt log-probabilities are not reported)", code: "unsupported_value");
        return Common(
            prompts, r.MaxTokens, "max_tokens", CompletionsDefaultMaxTokens,
            r.Temperature, r.TopP, r.N, r.Stop, r.Seed, r.PresencePenalty, r.FrequencyPenalty, r.MinTokens, r.IgnoreEos, r.LogitBias, r.TruncatePromptTokens, r.TopK, r.RepetitionPenalty,
            r.Logprobs, r.Stream == true, r.StreamOptions,
            Grammar(r.ResponseFormat, r.GuidedChoice, r.GuidedRegex, r.GuidedJson)) with { Echo = r.Echo == true };
    }

    private OpenAIPlan Common(
        IReadOnlyList<OpenAIPrompt> prompts, int? maxTokens, string maxParam, int defaultMaxTokens,
        float? temperature, float? topP, int? n, JsonElement stop, long? seed, float? presence, float? frequency,
        int? minTokens, bool? ignoreEos, Dictionary<string, float>? logitBias, int? truncatePromptTokens, int? topK, float? repetitionPenalty, int? logprobs, bool stream, StreamOptionsDto? streamOptions, (GrammarSpec Spec, string Param)? grammar)
    {
        float t = temperature ?? 1f;
        if (!(t >= 0f && t <= 2f)) throw OpenAIException.Invalid("temperature", $"Invalid 'temperature': Expected a value between 0 and 2, but got {t} instead.");
        float p = topP ?? 1f;
        if (!(p >= 0f && p <= 1f)) throw OpenAIException.Invalid("top_p", $"Invalid 'top_p': Expected a value between 0 and 1, but got {p} instead.");
        int count = n ?? 1;
        if (count < 1 || count > MaxN) throw OpenAIException.Invalid("n", $"Invalid 'n': integer out of range. Expected a value between 1 and {MaxN}, but got {count} instead.");
        float pp = presence ?? 0f, fp = frequency ?? 0f;
        if (!(pp >= -2f && pp <= 2f)) throw OpenAIException.Invalid("presence_penalty", $"Invalid 'presence_penalty': Expected a value between -2 and 2, but got {pp} instead.");
        if (!(fp >= -2f && fp <= 2f)) throw OpenAIException.Invalid("frequency_penalty", $"Invalid 'frequency_penalty': Expected a value between -2 and 2, but got {fp} instead.");
        if (maxTokens is < 1) throw OpenAIException.Invalid(maxParam, $"Invalid '{maxParam}': integer below minimum value. Expected a value >= 1, but got {maxTokens} instead.");
        var stops = Stops(stop);
        if (streamOptions is not null && !stream)
            throw OpenAIException.Invalid("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.");

        // vLLM's extensions: suppress end-of-generation until min_tokens, or altogether.
        if (minTokens is < 0) throw OpenAIException.Invalid("min_tokens", $"Invalid 'min_tokens': integer below minimum value. Expected a value >= 0, but got {minTokens} instead.");
        if (minTokens is { } min && maxTokens is { } max && min > max)
            throw OpenAIException.Invalid("min_tokens", $"Invalid 'min_tokens': must be <= '{maxParam}' ({max}), but got {min}.");
        var bias = LogitBiasParser.Parse(logitBias, message => OpenAIException.Invalid("logit_bias", "Invalid 'logit_bias': " + message + "."));
        if (truncatePromptTokens is < 1)
            throw OpenAIException.Invalid("truncate_prompt_tokens", $"Invalid 'truncate_prompt_tokens': integer below minimum value. Expected a value >= 1, but got {truncatePromptTokens} instead.");

        // vLLM's extensions and their ranges: top_k 0 or -1 is off, a repetition penalty of 1 is off.
        int k = topK ?? 0;
        if (k < -1) throw OpenAIException.Invalid("top_k", $"Invalid 'top_k': must be -1 (off), 0 (off) or at least 1, but got {k} instead.");
        float repetition = repetitionPenalty ?? 1f;
        if (!(repetition > 0f && float.IsFinite(repetition)))
            throw OpenAIException.Invalid("repetition_penalty", $"Invalid 'repetition_penalty': must be a finite number > 0, but got {repetition} instead.");

        // Temperature 0 is greedy; top_p 0 keeps only the most likely token, which is greedy too.
        bool sample = t > 0f && p > 0f;
        var sampling = new SamplingParameters
        {
            DoSample = sample,
            Temperature = sample ? t : 1f,
            TopP = sample ? p : 1f,
            TopK = sample ? Math.Max(k, 0) : 0,
            RepetitionPenalty = repetition,
            PresencePenalty = pp,
            FrequencyPenalty = fp,
        };
        return new OpenAIPlan
        {
            Prompts = prompts,
            N = count,
            MaxTokens = maxTokens,
            DefaultMaxTokens = defaultMaxTokens,
            MinTokens = minTokens ?? 0,
            IgnoreEos = ignoreEos == true,
            LogitBias = bias,
            TruncatePromptTokens = truncatePromptTokens,
            Sampling = sampling,
            Seed = seed is { } s ? unchecked((ulong)s) : null,
            Stop = stops,
            Logprobs = logprobs,
            Stream = stream,
            IncludeUsage = streamOptions?.IncludeUsage == true,
            Grammar = grammar?.Spec,
            GrammarParam = grammar?.Param,
        };
    }

    /// <summary>The service's inputs, one per prompt with n sequences each (choice order is prompt-major).</summary>
    public static List<GenerationInput> Inputs(OpenAIPlan plan) => plan.Prompts.Select((prompt, i) => new GenerationInput
    {
        PromptText = prompt.Tokens is null ? prompt.Text : null,
        PromptTokens = prompt.Tokens,
        AddSpecialTokens = plan.AddSpecialTokens,
        MaxNewTokens = plan.MaxTokens,
        DefaultMaxNewTokens = plan.DefaultMaxTokens,
        MinNewTokens = plan.MinTokens,
        IgnoreEos = plan.IgnoreEos,
        LogitBias = plan.LogitBias,
        Truncate = plan.TruncatePromptTokens,
        StopSequences = plan.Stop,
        IncludeStopSequence = false,
        Sampling = plan.Sampling,
        // Choice c of a seeded request is reproducible on its own: seed + c.
        Seed = plan.Seed is { } seed ? seed + (ulong)(i * plan.N) : null,
        Sequences = plan.N,
        TopNTokens = plan.Logprobs ?? 0,
        Grammar = plan.Grammar,
        GrammarParam = plan.GrammarParam ?? "response_format",
        AdapterId = plan.AdapterId,
        AdapterParam = "model",
    }).ToList();

    private string Text(int id) => (uint)id < (uint)tokenizer.VocabSize ? tokenizer.TokenText(id) : "";

    private List<OpenAIPrompt> Prompts(JsonElement prompt)
    {
        OpenAIPrompt FromIds(JsonElement array)
        {
            var ids = new List<int>();
            foreach (var e in array.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id) || (uint)id >= (uint)tokenizer.VocabSize)
                    throw OpenAIException.Invalid("prompt", $"Invalid 'prompt': token ids must be integers from 0 to {tokenizer.VocabSize - 1}.");
                ids.Add(id);
            }
            return new OpenAIPrompt(tokenizer.Decode(ids), ids);
        }
        OpenAIPrompt FromText(string text) => text.Length > 0 ? new(text, null) : throw OpenAIException.Invalid("prompt", "the prompt is empty", code: null);

        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return [FromText(prompt.GetString()!)];
            case JsonValueKind.Array when prompt.GetArrayLength() > 0:
                var first = prompt[0];
                if (first.ValueKind == JsonValueKind.Number) return [FromIds(prompt)];
                var list = new List<OpenAIPrompt>();
                foreach (var e in prompt.EnumerateArray())
                {
                    list.Add(e.ValueKind switch
                    {
                        JsonValueKind.String => FromText(e.GetString()!),
                        JsonValueKind.Array when e.GetArrayLength() > 0 => FromIds(e),
                        _ => throw OpenAIException.Invalid("prompt", "Invalid 'prompt': expected a string, an array of strings, or token ids."),
                    });
                }
                return list;
            case JsonValueKind.Undefined or JsonValueKind.Null:
                throw OpenAIException.Invalid("prompt", "Missing required parameter: 'prompt'.", code: "missing_required_parameter");
            default:
                throw OpenAIException.Invalid("prompt", "Invalid 'prompt': expected a string, an array of strings, or token ids.");
        }
    }

    private static List<string> Stops(JsonElement stop)
    {
        var list = stop.ValueKind switch
        {
            JsonValueKind.Undefined or JsonValueKind.Null => [],
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => stop.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
                ? e.GetString()!
                : throw OpenAIException.Invalid("stop", "Invalid 'stop': expected a string or an array of strings.")).ToList(),
            _ => throw OpenAIException.Invalid("stop", "Invalid 'stop': expected a string or an array of strings."),
        };
        if (list.Count > MaxStop) throw OpenAIException.Invalid("stop", $"Invalid 'stop': array too long. Expected an array with maximum length {MaxStop}, but got an array with length {list.Count} instead.");
        if (list.Any(s => s.Length == 0)) throw OpenAIException.Invalid("stop", "Invalid 'stop': stop sequences must not be empty.");
        return list;
    }

    /// <summary>response_format (text, json_object, json_schema) or vLLM's guided_choice / guided_regex / guided_json; at most one.</summary>
    private static (GrammarSpec Spec, string Param)? Grammar(ResponseFormatDto? format, List<string>? choice, string? regex, JsonElement json)
    {
        var found = new List<(GrammarSpec Spec, string Param)>();
        switch (format?.Type)
        {
            case null or "text":
                break;
            case "json_object":
                found.Add((new GrammarSpec(GrammarKind.JsonObject, ""), "response_format"));
                break;
            case "json_schema":
                if (format.JsonSchema is not { } js || js.Schema.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
                    throw OpenAIException.Invalid("response_format.json_schema", "Missing required parameter: 'response_format.json_schema.schema'.", code: "missing_required_parameter");
                found.Add((Schema(js.Schema, "response_format.json_schema.schema"), "response_format"));
                break;
            default:
                throw OpenAIException.Invalid("response_format.type", $"Invalid value: '{format.Type}'. Supported values are: 'text', 'json_object', and 'json_schema'.");
        }
        if (choice is not null) found.Add((new GrammarSpec(GrammarKind.Choice, JsonSerializer.Serialize(choice)), "guided_choice"));
        if (regex is not null) found.Add((new GrammarSpec(GrammarKind.Regex, regex), "guided_regex"));
        if (json.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)) found.Add((Schema(json, "guided_json"), "guided_json"));
        if (found.Count > 1) throw OpenAIException.Invalid(found[1].Param, "only one of response_format (json), guided_choice, guided_regex and guided_json may be given", code: null);
        return found.Count == 1 ? found[0] : null;
    }

    private static GrammarSpec Schema(JsonElement schema, string param)
    {
        try
        {
            return Inkwell.Server.Grammar.GrammarService.SchemaSpec(schema);
        }
        catch (GrammarException e)
        {
            throw OpenAIException.Invalid(param, e.Message, code: null);
        }
    }
}
