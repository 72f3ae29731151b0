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
    [InlineData("""{"type":"integer","minimum":0}""")]
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
}
