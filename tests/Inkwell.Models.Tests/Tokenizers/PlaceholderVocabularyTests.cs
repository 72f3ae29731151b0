using System.Text.Json;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>The test-llama-archs models of ../shared/arch-models carry llama.cpp's placeholder vocabulary: it must load.</summary>
public sealed class PlaceholderVocabularyTests
{
    public static TheoryData<string> Models()
    {
        var folder = RepoPaths.InShared("arch-models");
        var data = new TheoryData<string>();
        foreach (var file in Directory.Exists(folder) ? Directory.GetFiles(folder, "*.gguf").Order(StringComparer.Ordinal).ToArray() : [])
        {
            data.Add(Path.GetFileName(file));
        }
        if (data.Count == 0) data.Add("(no arch-models)");
        return data;
    }

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Arch_model_vocabulary_loads_as_a_placeholder_of_llama_cpp_size(string file)
    {
        string path = RepoPaths.InShared("arch-models", file);
        using var gguf = GgufFile.Open(path);
        var tokenizer = Tokenizer.FromGguf(gguf);
        // n_vocab as llama.cpp reported it when it computed the reference logits
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.ChangeExtension(path, ".logits.json")));
        Assert.True(tokenizer.IsPlaceholder);
        Assert.Equal(reference.RootElement.GetProperty("n_vocab").GetInt32(), tokenizer.VocabSize);
        Assert.Throws<NotSupportedException>(() => tokenizer.EncodeToIds("text"));
    }
}
