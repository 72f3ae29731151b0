namespace Inkwell.Templates.Tests;

/// <summary>Literals, operators, access and slicing; expected values are what Python/Jinja print.</summary>
public sealed class ExpressionTests
{
    internal static string Render(string source, IReadOnlyDictionary<string, object?>? variables = null) =>
        JinjaTemplate.Parse(source).Render(variables);

    private static readonly Dictionary<string, object?> Data = new()
    {
        ["items"] = new object?[] { 1L, 2L, 3L, 4L, 5L },
        ["word"] = "hello",
        ["user"] = new Dictionary<string, object?> { ["name"] = "Ann", ["age"] = 30, ["tags"] = new[] { "a", "b" } },
    };

    [Theory]
    [InlineData("{{ 1 + 2 * 3 }}", "7")]
    [InlineData("{{ (1 + 2) * 3 }}", "9")]
    [InlineData("{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}", "3|-4|2|-2")]
    [InlineData("{{ 7 / 2 }}|{{ 4 / 2 }}", "3.5|2.0")]
    [InlineData("{{ 2 ** 10 }}|{{ 2 ** 0.5 > 1.41 }}", "1024|True")]
    [InlineData("{{ 0.1 + 0.2 }}|{{ 1.5e3 }}|{{ 1e100 }}|{{ 1e-05 }}|{{ 3.0 }}", "0.30000000000000004|1500.0|1e+100|1e-05|3.0")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue")]
    [InlineData("{{ 'ab' * 3 }}|{{ [0] * 2 }}", "ababab|[0, 0]")]
    [InlineData("{{ [1, 'a', none, true, 2.5] }}", "[1, 'a', None, True, 2.5]")]
    [InlineData("{{ {'a': 1, 'b': [2]} }}", "{'a': 1, 'b': [2]}")]
    [InlineData("{{ (1, 2) }}|{{ (1,) }}", "(1, 2)|(1,)")]
    [InlineData("{{ \"it's\" }}|{{ 'say \\\"hi\\\"' }}|{{ 'tab\\tnew\\nline' }}", "it's|say \"hi\"|tab\tnew\nline")]
    [InlineData("{{ 'a' 'b' }}", "ab")]
    [InlineData("{{ True }}{{ False }}{{ None }}{{ true }}{{ none }}", "TrueFalseNoneTrueNone")]
    public void Literals_and_arithmetic(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ 1 < 2 and 'b' or 'c' }}", "b")]
    [InlineData("{{ none or 'x' }}|{{ 0 and 'x' }}", "x|0")]
    [InlineData("{{ not 0 }}|{{ not 'a' }}", "True|False")]
    [InlineData("{{ 'ab' in 'cabd' }}|{{ 3 not in [1, 2] }}|{{ 'k' in {'k': 1} }}", "True|True|True")]
    [InlineData("{{ 1 == 1.0 }}|{{ 'a' != 'b' }}|{{ [1, 2] == [1, 2] }}|{{ 'a' < 'b' }}", "True|True|True|True")]
    [InlineData("{{ 'y' if 1 > 2 else 'n' }}|{{ 'y' if false }}|", "n||")]
    [InlineData("{{ 'a' + ' b ' | trim }}", "ab")]
    [InlineData("{{ -3 | abs }}", "3")]
    [InlineData("{{ not 1 is none }}", "True")]
    public void Logic_comparisons_and_precedence(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ items[1:] }}", "[2, 3, 4, 5]")]
    [InlineData("{{ items[:-1] }}", "[1, 2, 3, 4]")]
    [InlineData("{{ items[::-1] }}", "[5, 4, 3, 2, 1]")]
    [InlineData("{{ items[::2] }}", "[1, 3, 5]")]
    [InlineData("{{ items[-2:] }}", "[4, 5]")]
    [InlineData("{{ items[3:0:-1] }}", "[4, 3, 2]")]
    [InlineData("{{ items[10:] }}|{{ items[-100:1] }}", "[]|[1]")]
    [InlineData("{{ word[::-1] }}|{{ word[1:3] }}|{{ word[-1] }}", "olleh|el|o")]
    public void Slicing_follows_python(string source, string expected) => Assert.Equal(expected, Render(source, Data));

    [Theory]
    [InlineData("{{ user.name }}|{{ user['age'] }}|{{ user.tags[-1] }}|{{ items[0] }}", "Ann|30|b|1")]
    [InlineData("[{{ user.missing }}][{{ user.missing.deeper }}][{{ nothing.at.all }}][{{ items[99] }}]", "[][][][]")]
    [InlineData("{{ user.missing is defined }}|{{ nothing.at.all is undefined }}|{{ items[99] is defined }}", "False|True|False")]
    [InlineData("{{ word.0 }}{{ items.1 }}", "h2")]
    public void Attribute_and_item_access(string source, string expected) => Assert.Equal(expected, Render(source, Data));

    [Theory]
    [InlineData("[{{ '  a b  '.strip() }}][{{ 'xxaxx'.strip('x') }}][{{ '\\n\\na'.lstrip('\\n') }}][{{ 'a  '.rstrip() }}]", "[a b][a][a][a]")]
    [InlineData("{{ 'a b  c'.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}", "['a', 'b', 'c']|['a', 'b', '', 'c']|['a', 'b,c']|['a,b', 'c']")]
    [InlineData("{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}", "True|True")]
    [InlineData("{{ 'aaa'.replace('a', 'b') }}|{{ 'aaa'.replace('a', 'b', 2) }}", "bbb|bba")]
    [InlineData("{{ 'hello world'.title() }}|{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ 'hELLO'.capitalize() }}", "Hello World|HIhi|Hello")]
    [InlineData("{{ '{} and {}'.format(1, 'b') }}|{{ '{name}!'.format(name='x') }}|{{ '{{}}'.format() }}", "1 and b|x!|{}")]
    [InlineData("{{ ', '.join(['a', 'b']) }}|{{ 'banana'.count('a') }}|{{ 'banana'.find('n') }}", "a, b|3|2")]
    [InlineData("{{ '%s is %d' % ('x', 3) }}|{{ '%.2f' % 3.14159 }}", "x is 3|3.14")]
    public void String_methods(string source, string expected) => Assert.Equal(expected, Render(source));

    [Fact]
    public void Dict_methods()
    {
        Assert.Equal(
            "name=Ann,age=30,|['name', 'age']|Ann|dflt|none",
            Render("{% for k, v in user.items() if k != 'tags' %}{{ k }}={{ v }},{% endfor %}|{{ user.keys() | list | reject('equalto', 'tags') | list }}"
                + "|{{ user.get('name') }}|{{ user.get('zip', 'dflt') }}|{{ user.get('zip') | lower }}", Data));
    }

    [Fact]
    public void Input_values_are_copied_so_templates_cannot_mutate_them()
    {
        var list = new List<object?> { 1L };
        Assert.Equal("[1, 2]", Render("{% set _ = xs.append(2) %}{{ xs }}", new Dictionary<string, object?> { ["xs"] = list }));
        Assert.Single(list);
    }

    [Fact]
    public void Json_element_inputs_become_template_values()
    {
        using var json = System.Text.Json.JsonDocument.Parse("""{"a": [1, 2.5, "x", true, null], "b": {"c": 3}}""");
        Assert.Equal("[1, 2.5, 'x', True, None]|3|True", Render("{{ d.a }}|{{ d.b.c }}|{{ d.b is mapping }}",
            new Dictionary<string, object?> { ["d"] = json.RootElement }));
    }
}
