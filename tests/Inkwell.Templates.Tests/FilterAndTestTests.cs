namespace Inkwell.Templates.Tests;

/// <summary>Builtin filters and tests; expected values follow Jinja's documentation and Python's json.dumps.</summary>
public sealed class FilterAndTestTests
{
    private static readonly Dictionary<string, object?> Data = new()
    {
        ["msgs"] = new object[]
        {
            new Dictionary<string, object?> { ["role"] = "system", ["content"] = "S" },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "U1" },
            new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "A1" },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "U2" },
        },
        ["d"] = new Dictionary<string, object?> { ["b"] = 1, ["A"] = 2, ["c"] = 0 },
    };

    private static string Render(string source) => JinjaTemplate.Parse(source).Render(Data);

    [Theory]
    [InlineData("{{ '  x  ' | trim }}|{{ 'xxhixx' | trim('x') }}", "x|hi")]
    [InlineData("{{ [1, 2, 3] | length }}|{{ 'héllo' | count }}|{{ d | length }}|{{ nope | length }}", "3|5|3|0")]
    [InlineData("{{ 'hello-world foo(bar)' | title }}|{{ 'hELLO wORLD' | capitalize }}", "Hello-World Foo(Bar)|Hello world")]
    [InlineData("{{ nope | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ nope | d('e') }}|{{ none | default('f') }}", "d||d|e|None")]
    [InlineData("{{ [1, 2, 3] | join(', ') }}|{{ msgs | join('+', attribute='role') }}|{{ 'abc' | list }}", "1, 2, 3|system+user+assistant+user|['a', 'b', 'c']")]
    [InlineData("{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}{{ 'abc' | first }}|{{ [] | first is defined }}", "13a|False")]
    [InlineData("{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}", "[3, 2, 1]|cba")]
    [InlineData("{{ 'aXbX' | replace('X', '-') }}|{{ 42 | string ~ '!' }}", "a-b-|42!")]
    [InlineData("{{ '42' | int }}|{{ '3.9' | int }}|{{ 'x' | int }}|{{ 'x' | int(7) }}|{{ 3.9 | int }}|{{ '0x1A' | int(base=16) }}", "42|3|0|7|3|26")]
    [InlineData("{{ '2.5' | float }}|{{ 3 | float }}|{{ 'x' | float }}", "2.5|3.0|0.0")]
    [InlineData("{{ d | items | list }}", "[('b', 1), ('A', 2), ('c', 0)]")]
    [InlineData("{{ d | dictsort }}|{{ d | dictsort(by='value') }}|{{ d | dictsort(true) }}", "[('A', 2), ('b', 1), ('c', 0)]|[('c', 0), ('b', 1), ('A', 2)]|[('A', 2), ('b', 1), ('c', 0)]")]
    [InlineData("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | join }}", "U1U2")]
    [InlineData("{{ msgs | rejectattr('role', 'in', ['system', 'user']) | map(attribute='content') | list }}", "['A1']")]
    [InlineData("{{ [0, 1, '', 'a', none] | select | list }}|{{ range(6) | reject('odd') | list }}|{{ range(10) | select('divisibleby', 3) | list }}", "[1, 'a']|[0, 2, 4]|[0, 3, 6, 9]")]
    [InlineData("{{ ['a', 'b'] | map('upper') | list }}|{{ msgs | map(attribute='missing', default='?') | join }}", "['A', 'B']|????")]
    [InlineData("{{ [1, 2, 1, 'a', 'A'] | unique | list }}", "[1, 2, 'a']")]
    [InlineData("{{ -5 | abs }}|{{ 2.5 | round }}|{{ 3.14159 | round(2) }}|{{ 2.1 | round(method='ceil') }}", "5|2.0|3.14|3.0")]
    [InlineData("{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}", "a\n  b\n\n  c|  a\n  b")]
    [InlineData("{{ 'hello big  world' | wordcount }}|{{ '<a href=\"x\">&' | escape }}|{{ '<b>' | safe }}", "3|&lt;a href=&#34;x&#34;&gt;&amp;|<b>")]
    [InlineData("{{ [3, 1, 2] | sort }}|{{ ['b', 'A', 'c'] | sort(reverse=true) }}|{{ msgs | sort(attribute='content') | map(attribute='content') | join }}", "[1, 2, 3]|['c', 'b', 'A']|A1SU1U2")]
    [InlineData("{{ [1, 2, 3] | sum }}|{{ [3, 1, 2] | min }}|{{ [3, 1, 2] | max }}|{{ range(5) | batch(2) | list }}", "6|1|3|[[0, 1], [2, 3], [4]]")]
    [InlineData("{{ '%s-%s' | format('a', 1) }}|{{ 'abc' | center(7) }}|{{ 'hello world foo' | truncate(9, leeway=0) }}", "a-1|  abc  |hello...")]
    public void Filters(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ {'a': [1, 2.5, 'x\"y'], 'b': none, 'c': true} | tojson }}", "{\"a\": [1, 2.5, \"x\\\"y\"], \"b\": null, \"c\": true}")]
    [InlineData("{{ {'a': [1, {}], 'b': []} | tojson(indent=2) }}", "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}")]
    [InlineData("{{ 'é<\\n' | tojson }}|{{ 'é' | tojson(ensure_ascii=true) }}", "\"é<\\n\"|\"\\u00e9\"")]
    [InlineData("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ (1, 2) | tojson }}|{{ 1.0 | tojson }}", "{\"a\": 2, \"b\": 1}|[1, 2]|1.0")]
    public void Tojson_matches_python_json_dumps(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ x is defined }}{{ x is undefined }}{{ d is defined }}", "FalseTrueTrue")]
    [InlineData("{{ none is none }}{{ 0 is none }}{{ 'a' is string }}{{ 1 is string }}", "TrueFalseTrueFalse")]
    [InlineData("{{ d is mapping }}{{ msgs is mapping }}{{ msgs is sequence }}{{ 'a' is iterable }}{{ 1 is iterable }}", "TrueFalseTrueTrueFalse")]
    [InlineData("{{ 1 is number }}{{ 1.5 is number }}{{ 'a' is number }}{{ 1 is integer }}{{ 1.5 is float }}", "TrueTrueFalseTrueTrue")]
    [InlineData("{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}", "TrueFalseTrueFalseTrue")]
    [InlineData("{{ 'a' is equalto 'a' }}{{ 1 is eq 2 }}{{ 2 is in [1, 2] }}{{ 3 is divisibleby 3 }}{{ 3 is odd }}{{ 3 is even }}", "TrueFalseTrueTrueTrueFalse")]
    [InlineData("{{ x is not defined }}{{ d is not none }}{{ 'ab' is lower }}{{ range is callable }}", "TrueTrueTrueTrue")]
    public void Tests(string source, string expected) => Assert.Equal(expected, Render(source));
}
