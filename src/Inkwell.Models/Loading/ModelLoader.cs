using Inkwell.Models.Gguf;
using Inkwell.Models.Decoder;
using Inkwell.Runtime.Threading;
using Inkwell.Models.Tokenizers;
using Inkwell.Runtime.Quantization;

namespace Inkwell.Models.Loading;

/// <summary>A model ready to run: shape, weights, tokenizer and what else its files said.</summary>
public sealed class LoadedModel : IDisposable
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    public required string Format { get; init; }
    public required ModelConfig Config { get; init; }
    public required DecoderWeights Weights { get; init; }
    /// <summary>
    /// The model's tokenizer. For llama.cpp's test models it is a placeholder vocabulary
    /// (<see cref="Tokenizer.IsPlaceholder"/>): ids work, text does not, and encoding says so.
    /// </summary>
    public required Tokenizer Tokenizer { get; init; }
    /// <summary>The model's own Jinja chat template, when its files carry one.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>The runnable model over these weights (which stay owned by this object).</summary>
    public ICausalLM CreateModel(WorkerPool pool) => new DecoderModel(Config, Weights, pool);

    public void Dispose() => Weights.Dispose();
}

/// <summary>
/// Opens any supported model by path: a GGUF file, a llama2.c checkpoint (.bin, with its tokenizer.bin), or a
/// Hugging Face directory (config.json + safetensors + tokenizer.json). Problems surface as one
/// <see cref="InvalidDataException"/> or <see cref="FileNotFoundException"/> naming the file.
/// </summary>
public static class ModelLoader
{
    /// <param name="quantize">
    /// Re-encode float weight matrices on load (--quantize), each whole tensor as llama-quantize would (see
    /// <see cref="LoadTimeQuantizer"/>); null keeps them as stored.
    /// </param>
    public static LoadedModel Load(string path, string? tokenizerPath = null, QuantizationScheme? quantize = null)
    {
        if (HuggingFaceLoader.IsModelDirectory(path)) return LoadHuggingFace(path, tokenizerPath, quantize);
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: a model directory needs config.json (Hugging Face layout)");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model file not found", path);
        return GgufFile.LooksLikeGguf(path) ? LoadGguf(path, tokenizerPath, quantize) : LoadLlama2c(path, tokenizerPath, quantize);
    }

    private static LoadedModel LoadGguf(string path, string? tokenizerPath, QuantizationScheme? quantize)
    {
        var file = GgufFile.Open(path);
        try
        {
            var config = GgufDecoderLoader.ReadConfig(file);
            var weights = GgufDecoderLoader.ReadWeights(file, config, quantize);
            // llama.cpp's test models' vocabulary ("test") loads as a placeholder tokenizer: ids only, no text.
            var tokenizer = tokenizerPath is not null ? LoadTokenizerFile(tokenizerPath, config.VocabSize)
                : file.Metadata.ContainsKey("tokenizer.ggml.tokens") ? Tokenizer.FromGguf(file)
                : throw new InvalidDataException($"{path}: the file has no vocabulary (tokenizer.ggml.tokens); pass --tokenizer");
            return new LoadedModel
            {
                // Converters often write the bare architecture as general.name ("llama"); the file name says more then.
                Name = file.GetOrDefault<string?>("general.name", null) is { Length: > 0 } name && name != config.Architecture
                    ? name : System.IO.Path.GetFileNameWithoutExtension(path),
                Path = path,
                Format = "gguf",
                Config = config,
                Weights = weights,
                Tokenizer = tokenizer,
                ChatTemplate = file.GetOrDefault<string?>("tokenizer.chat_template", null),
            };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static LoadedModel LoadLlama2c(string path, string? tokenizerPath, QuantizationScheme? quantize)
    {
        var (config, weights) = Llama2cLoader.Load(path, quantize);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        tokenizerPath ??= File.Exists(System.IO.Path.Combine(dir, "tokenizer.bin")) ? System.IO.Path.Combine(dir, "tokenizer.bin")
            : Directory.GetFiles(dir, "tok*.bin") is [var single] ? single
            : throw new InvalidDataException($"{path}: llama2.c checkpoints carry no vocabulary; pass --tokenizer (tokenizer.bin)");
        return new LoadedModel
        {
            Name = System.IO.Path.GetFileNameWithoutExtension(path),
            Path = path,
            Format = "llama2.c",
            Config = config,
            Weights = weights,
            Tokenizer = LoadTokenizerFile(tokenizerPath, config.VocabSize),
        };
    }

    private static LoadedModel LoadHuggingFace(string dir, string? tokenizerPath, QuantizationScheme? quantize)
    {
        var config = HuggingFaceLoader.ReadConfig(dir);
        var weights = HuggingFaceLoader.ReadWeights(dir, config, quantize);
        try
        {
            string tokenizerConfig = System.IO.Path.Combine(dir, "tokenizer_config.json");
            var tokenizer = LoadTokenizerFile(tokenizerPath ?? System.IO.Path.Combine(dir, "tokenizer.json"), config.VocabSize,
                File.Exists(tokenizerConfig) ? tokenizerConfig : null);
            return new LoadedModel
            {
                Name = System.IO.Path.GetFileName(System.IO.Path.GetFullPath(dir).TrimEnd(System.IO.Path.DirectorySeparatorChar)),
                Path = dir,
                Format = "huggingface",
                Config = config,
                Weights = weights,
                Tokenizer = tokenizer,
                ChatTemplate = File.Exists(tokenizerConfig) ? ReadChatTemplate(tokenizerConfig) : null,
            };
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>A tokenizer from a llama2.c tokenizer.bin, a tokenizer.json, or a (vocab-only) GGUF.</summary>
    public static Tokenizer LoadTokenizerFile(string path, int vocabSize, string? tokenizerConfigPath = null)
    {
        var tokenizer = ReadTokenizerFile(path, vocabSize, tokenizerConfigPath);
        // Fewer tokens than embedding rows is common (padded vocabularies); more would index past the embeddings.
        if (tokenizer.VocabSize > vocabSize)
            throw new InvalidDataException($"{path}: the tokenizer has {tokenizer.VocabSize} tokens but the model only {vocabSize}; it is not this model's tokenizer");
        return tokenizer;
    }

    private static Tokenizer ReadTokenizerFile(string path, int vocabSize, string? tokenizerConfigPath)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: tokenizer file not found", path);
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return Tokenizer.FromHuggingFaceJson(path, tokenizerConfigPath);
        if (GgufFile.LooksLikeGguf(path))
        {
            using var f = GgufFile.Open(path);
            return Tokenizer.FromGguf(f);
        }
        return Tokenizer.FromLlama2cFile(path, vocabSize);
    }

    private static string? ReadChatTemplate(string tokenizerConfig)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(tokenizerConfig));
        if (!doc.RootElement.TryGetProperty("chat_template", out var t)) return null;
        if (t.ValueKind == System.Text.Json.JsonValueKind.String) return t.GetString();
        // A list of named templates: the one called "default".
        if (t.ValueKind == System.Text.Json.JsonValueKind.Array)
            foreach (var item in t.EnumerateArray())
                if (item.TryGetProperty("name", out var n) && n.GetString() == "default") return item.GetProperty("template").GetString();
        return null;
    }
}
