using System.Text;
using System.Text.RegularExpressions;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>A fact that reads the llama.cpp peer's llama-vocab.cpp: skipped with the path when that checkout is absent.</summary>
public sealed class LlamaVocabSourceFactAttribute : FactAttribute
{
    public static readonly string SourcePath = Path.Combine(Path.GetDirectoryName(VocabSuites.PeerModels)!, "src", "llama-vocab.cpp");

    public LlamaVocabSourceFactAttribute()
    {
        if (!File.Exists(SourcePath)) Skip = $"needs the llama.cpp peer source ({SourcePath} not found; ../shared/tools/build-llama-cpp.sh unpacks it)";
    }
}

/// <summary>The data table against the source it was taken from: every tokenizer.ggml.pre name, regex list and flag.</summary>
public sealed class PreTokenizerTableTests
{
    private sealed record SourceType(string[] Patterns, bool ByteEncode);

    private sealed record SourceName(string Type, string Statements);

    [LlamaVocabSourceFact]
    public void Table_matches_llama_vocab_cpp()
    {
        string source = File.ReadAllText(LlamaVocabSourceFactAttribute.SourcePath);
        var types = ReadTypes(source);
        var names = ReadNames(source);
        Assert.True(types.Count > 50 && names.Count > 80, $"parsed only {types.Count} types and {names.Count} names");

        foreach (var (name, (type, statements)) in names)
        {
            var family = PreTokenizerPatterns.ForGgufPre(name);
            Assert.True(family is not null, $"'{name}' is missing from the table");
            Assert.True(types[type].Patterns.Select(AsRegexEscapes).SequenceEqual(family.Patterns.Select(AsRegexEscapes)),
                $"'{name}': regexes differ from LLAMA_VOCAB_PRE_TYPE_{type}");
            Assert.True(types[type].ByteEncode == family.ByteLevel, $"'{name}': byte encoding");
            Assert.True(statements.Contains("ignore_merges = true") == family.IgnoreMerges, $"'{name}': ignore_merges");
            Assert.True(statements.Contains("add_bos = true") == family.AddBosDefault, $"'{name}': add_bos");
            Assert.True(statements.Contains("escape_whitespaces = true") == family.EscapeWhitespace, $"'{name}': escape_whitespaces");
            Assert.True(statements.Contains("special_bos_id = LLAMA_TOKEN_NULL") == !family.HasBos, $"'{name}': BOS");
            Assert.True((type == "GEMMA4") == family.AlwaysAddBos && (type == "GEMMA4") == family.NewlineRunsWhole, $"'{name}': Gemma 4 rules");
        }
        Assert.Empty(PreTokenizerPatterns.Families.SelectMany(f => f.Names).Except(names.Keys));
    }

    /// <summary>llm_tokenizer_bpe's constructor: regex_exprs per LLAMA_VOCAB_PRE_TYPE_*.</summary>
    private static Dictionary<string, SourceType> ReadTypes(string source)
    {
        int start = source.IndexOf("struct llm_tokenizer_bpe : llm_tokenizer {", StringComparison.Ordinal);
        int end = source.IndexOf("std::vector<std::string> regex_exprs;", start, StringComparison.Ordinal);
        var types = new Dictionary<string, SourceType>();
        foreach (var block in source[start..end].Split("break;"))
        {
            var cases = Regex.Matches(block, @"case LLAMA_VOCAB_PRE_TYPE_(\w+):").Select(m => m.Groups[1].Value).ToList();
            if (block.Contains("default:", StringComparison.Ordinal)) cases.Add("DEFAULT");
            string code = string.Join('\n', block.Split('\n').Where(line => !line.TrimStart().StartsWith("//", StringComparison.Ordinal)));
            var list = Regex.Match(code, @"regex_exprs = \{(.*?)\};", RegexOptions.Singleline);
            if (!list.Success) continue;
            var patterns = Regex.Matches(list.Groups[1].Value, @"""((?:[^""\\]|\\.)*)""").Select(m => Unescape(m.Groups[1].Value)).ToArray();
            foreach (var type in cases) types[type] = new SourceType(patterns, !code.Contains("byte_encode = false", StringComparison.Ordinal));
        }
        return types;
    }

    /// <summary>The tokenizer_pre == "..." chain of llama_vocab::impl::load: name -> type and the statements that set its flags.</summary>
    private static Dictionary<string, SourceName> ReadNames(string source)
    {
        var names = new Dictionary<string, SourceName>();
        foreach (Match m in Regex.Matches(source, @"if \(((?:\s*tokenizer_pre == ""[^""]+""\s*\|*)+)\)\s*\{(.*?)\}", RegexOptions.Singleline))
        {
            var type = Regex.Match(m.Groups[2].Value, @"pre_type = LLAMA_VOCAB_PRE_TYPE_(\w+);");
            if (!type.Success) continue;
            foreach (Match name in Regex.Matches(m.Groups[1].Value, @"""([^""]+)""")) names[name.Groups[1].Value] = new SourceName(type.Groups[1].Value, m.Groups[2].Value);
        }
        return names;
    }

    /// <summary>A raw CR, LF or tab in a regex means what \r, \n, \t mean: compare them spelled one way.</summary>
    private static string AsRegexEscapes(string pattern) =>
        pattern.Replace("\r", @"\r", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal).Replace("\t", @"\t", StringComparison.Ordinal);

    private static string Unescape(string literal)
    {
        var text = new StringBuilder();
        for (int i = 0; i < literal.Length; i++)
        {
            if (literal[i] != '\\')
            {
                text.Append(literal[i]);
                continue;
            }
            char e = literal[++i];
            text.Append(e switch { 'n' => '\n', 'r' => '\r', 't' => '\t', _ => e });
        }
        return text.ToString();
    }
}
