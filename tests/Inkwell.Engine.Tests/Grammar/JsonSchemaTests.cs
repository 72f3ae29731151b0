using System.Text;
using Inkwell.Engine.Grammar;

namespace Inkwell.Engine.Tests.Grammar;

public sealed class JsonSchemaTests
{
    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":["string","null"]}},"required":["name"]}
        """;

    [Theory]
    [InlineData("""{"name":"Ann"}""", true)]
    [InlineData("""{"name":"Ann","age":30}""", true)]
    [InlineData("""{"name": "Ann", "age": -3, "email": null}""", true)]  // one optional space after ':' and ','
    [InlineData("""{"name":"Ann","email":"a@b"}""", true)]
    [InlineData("""{"name":"A\"n\\n\/é"}""", true)]
    [InlineData("""{"name":"A\u00e9"}""", false)]                    // \u escapes are left out (no lone surrogates)
    [InlineData("""{"age":30}""", false)]                             // required missing
    [InlineData("""{"age":30,"name":"Ann"}""", false)]                // schema order only
    [InlineData("""{"name":"Ann","extra":1}""", false)]               // additionalProperties false by default
    [InlineData("""{"name":"Ann","age":3.5}""", false)]
    [InlineData("""{"name":"Ann","age":007}""", false)]
    [InlineData("""{ "name":"Ann"}""", false)]                        // no space after '{'
    [InlineData("""{"name":"Ann",}""", false)]
    [InlineData("{\"name\":\"A\u0001\"}", false)]                       // raw control character
    public void ObjectShapes(string json, bool ok) =>
        Assert.Equal(ok, GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, Person)).Matches(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}""", "[true]", true)]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}""", "[true, false]", true)]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}""", "[]", false)]
    [InlineData("""{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":2}""", "[true,true,true]", false)]
    [InlineData("""{"enum":["a",1,null,{"k":[1,2]}]}""", """{"k":[1,2]}""", true)]
    [InlineData("""{"enum":["a",1,null]}""", "2", false)]
    [InlineData("""{"const":"x.y"}""", "\"x.y\"", true)]
    [InlineData("""{"const":"x.y"}""", "\"xzy\"", false)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"é日\"", true)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"abcd\"", false)]
    [InlineData("""{"type":"string","format":"uuid"}""", "\"123e4567-e89b-12d3-a456-426614174000\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2024-13-01\"", false)]
    [InlineData("""{"type":"number"}""", "-1.5e+3", true)]
    [InlineData("""{"type":"number"}""", "1.", false)]
    [InlineData("""{"type":"integer"}""", "1234567890123456", true)]                   // 16 digits, as llama.cpp allows
    [InlineData("""{"type":"integer"}""", "12345678901234567", false)]
    [InlineData("""{"type":"number"}""", "0.1234567890123456", true)]
    [InlineData("""{"type":"number"}""", "0.12345678901234567", false)]
    [InlineData("""{"type":"number"}""", "1e12345678901234567", false)]
    [InlineData("""{"$defs":{"n":{"type":"null"}},"anyOf":[{"$ref":"#/$defs/n"},{"type":"boolean"}]}""", "null", true)]
    [InlineData("""{"type":"object","additionalProperties":{"type":"integer"}}""", """{"a":1, "b":2}""", true)]
    [InlineData("""{"type":"object"}""", """{"a":{"b":[1,null]}}""", true)]
    [InlineData("""{"type":"object"}""", """{"a":{"b":[{"c":null}]}}""", false)]       // deeper than 3 levels
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}""", "{}", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}""", """{"b":1}""", true)]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}""", """{,"b":1}""", false)]
    public void Keywords(string schema, string json, bool ok) =>
        Assert.Equal(ok, GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, schema)).Matches(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void LongBoundedStringStaysSmall()
    {
        // Nine states per character position (UTF-8 lead/continuation bytes and escapes), well inside the default limit.
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, """{"type":"string","maxLength":1000}"""));
        Assert.True(dfa.StateCount <= 9 * 1000 + 10, $"{dfa.StateCount} states");
        Assert.True(dfa.Matches(Encoding.UTF8.GetBytes("\"" + new string('é', 1000) + "\"")));
        Assert.False(dfa.Matches(Encoding.UTF8.GetBytes("\"" + new string('x', 1001) + "\"")));
    }

    [Fact]
    public void RecursionIsUnrolledToABoundedDepth()
    {
        const string tree = """{"$defs":{"t":{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#/$defs/t"}}}}},"$ref":"#/$defs/t"}""";
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, tree));
        Assert.True(dfa.Matches("""{"c":[{"c":[{}]}]}"""u8));
        Assert.False(dfa.Matches("""{"c":[{"c":[{"c":[{"c":[]}]}]}]}"""u8));
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"type":"integer","minimum":5,"maximum":4}""")]
    [InlineData("""{"type":"integer","minimum":true}""")]
    [InlineData("""{"type":"number","minimum":0.5}""")]
    [InlineData("""{"type":"number","exclusiveMinimum":0}""")]
    [InlineData("""{"type":"string","pattern":"x)|(.*"}""")]
    [InlineData("""{"type":"string","pattern":"a^b"}""")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":true}""")]
    [InlineData("""{"$ref":"#/$defs/missing"}""")]
    [InlineData("""{"$ref":"https://example.com/s.json"}""")]
    [InlineData("""{"allOf":[{"type":"string"},{"maxLength":3}]}""")]
    [InlineData("""{"type":"strin"}""")]
    [InlineData("""{"type":"string","format":"email"}""")]
    [InlineData("""{"type":"string","pattern":"(a"}""")]
    [InlineData("""{"type":"array","minItems":-1}""")]
    [InlineData("""{"enum":[]}""")]
    [InlineData("false")]
    public void InvalidOrUnsupportedSchemaIsRejectedClearly(string schema)
    {
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, schema)));
        Assert.StartsWith("grammar is not valid: ", e.Message);
    }

    [Theory]
    [InlineData(GrammarKind.Choice, "yes")]
    [InlineData(GrammarKind.Choice, "[]")]
    [InlineData(GrammarKind.JsonObject, "deep")]
    [InlineData(GrammarKind.JsonObject, "9")]
    public void InvalidChoiceOrObjectValue(GrammarKind kind, string value)
    {
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.CompileToDfa(new GrammarSpec(kind, value)));
        Assert.StartsWith("grammar is not valid: ", e.Message);
    }

    [Fact]
    public void ChoiceEscapesMetacharacters()
    {
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.Choice, """["a.b","(c)*","x|y"]"""));
        Assert.True(dfa.Matches("a.b"u8));
        Assert.True(dfa.Matches("(c)*"u8));
        Assert.True(dfa.Matches("x|y"u8));
        Assert.False(dfa.Matches("axb"u8));
        Assert.False(dfa.Matches("x"u8));
    }

    /// <summary>Every integer in a window around the bounds, and a few far away, against plain arithmetic.</summary>
    [Theory]
    [InlineData(0L, 100L)]
    [InlineData(15L, 213L)]
    [InlineData(-1200L, -7L)]
    [InlineData(-35L, 1999L)]
    [InlineData(7L, 7L)]
    [InlineData(-9_999_999_999_999_999L, 123L)]
    [InlineData(1000L, 9_999_999_999_999_999L)]
    public void IntegerMinimumAndMaximumAreExact(long min, long max)
    {
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, $$"""{"type":"integer","minimum":{{min}},"maximum":{{max}}}"""));
        var candidates = new List<long>();
        foreach (long center in (long[])[0, min, max, 99, 100, 1000, -100])
            for (long d = -130; d <= 130; d++) candidates.Add(center + d);
        candidates.AddRange([long.MaxValue / 2, -long.MaxValue / 2, 9_999_999_999_999_999L, 10_000_000_000_000_000L]);
        foreach (long v in candidates)
            Assert.True((v >= min && v <= max) == dfa.Matches(Encoding.UTF8.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture))), $"{v} in [{min},{max}]");
        Assert.False(dfa.Matches("007"u8));
        Assert.False(dfa.Matches("1.0"u8));
    }

    [Theory]
    [InlineData("""{"type":"integer","exclusiveMinimum":-3.5,"exclusiveMaximum":10}""", -3, 9)]
    [InlineData("""{"type":"integer","minimum":-3.5,"maximum":9.9}""", -3, 9)]
    [InlineData("""{"minimum":2,"exclusiveMaximum":5,"type":"integer"}""", 2, 4)]
    public void ExclusiveAndFractionalIntegerBounds(string schema, int lo, int hi)
    {
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, schema));
        for (int v = -20; v <= 20; v++)
            Assert.Equal(v >= lo && v <= hi, dfa.Matches(Encoding.UTF8.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("1", true)]
    [InlineData("1.0", true)]
    [InlineData("1.000", true)]
    [InlineData("1.01", false)]
    [InlineData("0.25", true)]
    [InlineData("-0.5", false)]
    [InlineData("2", false)]
    [InlineData("1e0", false)]                     // bounded numbers are written without an exponent
    public void NumberBoundsAreExact(string json, bool ok) =>
        Assert.Equal(ok, GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, """{"type":"number","minimum":0,"maximum":1}""")).Matches(Encoding.UTF8.GetBytes(json)));

    [Theory]
    [InlineData("-10", true)]
    [InlineData("-10.0", true)]
    [InlineData("-10.5", false)]
    [InlineData("-9.99", true)]
    [InlineData("-3", true)]
    [InlineData("-2.5", false)]
    [InlineData("0", false)]
    public void NegativeNumberBounds(string json, bool ok) =>
        Assert.Equal(ok, GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, """{"type":"number","minimum":-10,"maximum":-3}""")).Matches(Encoding.UTF8.GetBytes(json)));

    public static readonly TheoryData<string> Patterns = new()
    {
        "ab", "^ab", "ab$", "^ab$", "^a|b$", "^(?:a|b)$", "x\\d", "^[^a]{2}$", "^\"?q", "^.$", "^\\n?$", "[\\x00-\\x1f]",
    };

    /// <summary>
    /// JSON Schema's "pattern" is a search over the decoded string. Each candidate is encoded by System.Text.Json and
    /// must match the compiled grammar exactly when .NET's ECMAScript regex finds the pattern in the decoded value.
    /// </summary>
    [Theory]
    [MemberData(nameof(Patterns))]
    public void PatternIsASearchOverTheDecodedString(string pattern)
    {
        string schema = System.Text.Json.JsonSerializer.Serialize(new { type = "string", pattern });
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, schema));
        var reference = JsonSchemaChecker.PatternRegex(pattern);
        var encoder = new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        string[] pieces = ["a", "b", "ab", "x", "\\", "\"", "\n", "q", "é", "\u0001", "\u001b", "1", "d"];
        var rng = new Random(pattern.Length);
        int matched = 0;
        for (int i = 0; i < 400; i++)
        {
            string value = string.Concat(Enumerable.Range(0, rng.Next(0, 5)).Select(_ => pieces[rng.Next(pieces.Length)]));
            bool expected = reference.IsMatch(value);
            matched += expected ? 1 : 0;
            string json = System.Text.Json.JsonSerializer.Serialize(value, encoder);
            Assert.True(expected == dfa.Matches(Encoding.UTF8.GetBytes(json)), $"{json} vs /{pattern}/: expected {expected}");
        }
        Assert.InRange(matched, 1, 399);
    }

    [Fact]
    public void PatternNeverLeavesTheString()
    {
        // Pasted raw, "x)|(.*" would close the quote's group and allow any text; it is now an invalid regex on its own,
        // and ".*" itself stays inside the quotes.
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, """{"type":"string","pattern":".*"}"""));
        Assert.True(dfa.Matches("\"any \\\" thing\""u8));
        Assert.False(dfa.Matches("\"a\" junk"u8));
        Assert.False(dfa.Matches("\"a\"\""u8));
    }

    /// <summary>Issue 11 item 3: a lone surrogate anywhere in a grammar is a clear "not valid", never another exception.</summary>
    [Theory]
    [InlineData(GrammarKind.JsonSchema, """{"enum":["\ud800"]}""")]
    [InlineData(GrammarKind.JsonSchema, """{"const":"a\udc00"}""")]
    [InlineData(GrammarKind.JsonSchema, """{"type":"object","properties":{"\ud800":{"type":"integer"}}}""")]
    [InlineData(GrammarKind.JsonSchema, """{"type":"string","pattern":"\ud800"}""")]
    [InlineData(GrammarKind.Choice, """["\ud800"]""")]
    public void LoneSurrogatesAreRejectedClearly(GrammarKind kind, string value)
    {
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.CompileToDfa(new GrammarSpec(kind, value)));
        Assert.StartsWith("grammar is not valid: ", e.Message);
    }

    [Fact] // not theory data: test discovery would replace the lone surrogate with U+FFFD
    public void LoneSurrogateInARegexIsRejectedClearly() =>
        LoneSurrogatesAreRejectedClearly(GrammarKind.Regex, "a\ud800");

    /// <summary>Subset construction may pass the final state limit as long as minimization brings it back under.</summary>
    [Fact]
    public void SixtyOptionalPropertiesAndNestedAnyObjectsCompile()
    {
        string sixty = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 60).Select(i => $"\"p{i}\":{{\"type\":\"integer\"}}")) + "}}";
        var dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, sixty));
        Assert.True(dfa.Matches("""{"p3":1, "p59":-2}"""u8));
        Assert.False(dfa.Matches("""{"p59":-2,"p3":1}"""u8));
        const string anyObjects = """{"type":"object","properties":{"a":{"type":"array","items":{"type":"object"}},"b":{"type":"object"},"c":{}}}""";
        dfa = GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.JsonSchema, anyObjects));
        Assert.True(dfa.Matches("""{"a":[{"x":[1,{"y":null}]}],"b":{},"c":"z"}"""u8));
    }
}
