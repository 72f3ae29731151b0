namespace Inkwell.Templates.Tests;

/// <summary>for / if / set / macro / call / filter blocks, scoping and namespace(), as documented for Jinja.</summary>
public sealed class StatementTests
{
    private static string Render(string source, IReadOnlyDictionary<string, object?>? variables = null) =>
        JinjaTemplate.Parse(source).Render(variables);

    [Fact]
    public void Loop_variables()
    {
        Assert.Equal(
            "1 0 True False 3 3 2|2 1 False False 3 2 1|3 2 False True 3 1 0|",
            Render("{% for x in 'abc' %}{{ loop.index }} {{ loop.index0 }} {{ loop.first }} {{ loop.last }} {{ loop.length }} {{ loop.revindex }} {{ loop.revindex0 }}|{% endfor %}"));
    }

    [Fact]
    public void Loop_filter_is_applied_before_counting()
    {
        Assert.Equal("0:1/3 2:2/3 4:3/3 ", Render("{% for x in range(5) if x is even %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}"));
    }

    [Fact]
    public void Loop_else_runs_only_for_an_empty_sequence()
    {
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("empty", Render("{% for x in [1, 2] if x > 5 %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("12", Render("{% for x in [1, 2] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("", Render("{% for x in undefined_thing %}{{ x }}{% endfor %}"));
    }

    [Fact]
    public void Loop_unpacking_previtem_nextitem_and_cycle()
    {
        Assert.Equal("a=1;b=2;", Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in {'a': 1, 'b': 2} | dictsort %}{{ k }}={{ v }};{% endfor %}"));
        Assert.Equal("-a b|ab c|bc -", Render("{% for x in 'abc' %}{{ loop.previtem | default('-') }}{{ x }} {{ loop.nextitem | default('-') }}{% if not loop.last %}|{% endif %}{% endfor %}"));
        Assert.Equal("odd even odd ", Render("{% for x in range(3) %}{{ loop.cycle('odd', 'even') }} {% endfor %}"));
    }

    [Fact]
    public void Nested_loops_see_their_own_loop_variable()
    {
        Assert.Equal("1.1 1.2 2.1 2.2 ", Render("{% for a in [1, 2] %}{% set outer = loop.index %}{% for b in [1, 2] %}{{ outer }}.{{ loop.index }} {% endfor %}{% endfor %}"));
    }

    [Fact]
    public void Break_and_continue()
    {
        Assert.Equal("013", Render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
    }

    [Fact]
    public void Set_in_a_loop_does_not_leak_but_namespace_attributes_do()
    {
        Assert.Equal("0|3", Render("{% set count = 0 %}{% set ns = namespace(count=0) %}{% for x in [1, 2, 3] %}{% set count = count + 1 %}{% set ns.count = ns.count + 1 %}{% endfor %}{{ count }}|{{ ns.count }}"));
    }

    [Fact]
    public void Set_in_an_if_block_is_visible_after_it()
    {
        Assert.Equal("yes", Render("{% if true %}{% set x = 'yes' %}{% endif %}{{ x }}"));
    }

    [Fact]
    public void Set_supports_tuple_unpacking_and_block_capture_with_filters()
    {
        Assert.Equal("1-2", Render("{% set a, b = 1, 2 %}{{ a }}-{{ b }}"));
        Assert.Equal("[HI 3]", Render("{% set x | upper %}hi {{ 1 + 2 }}{% endset %}[{{ x }}]"));
        Assert.Equal("<a b>", Render("{% set x %}  a b  {% endset %}<{{ x | trim }}>"));
    }

    [Fact]
    public void Namespace_without_arguments_accepts_new_attributes()
    {
        Assert.Equal("5 True", Render("{% set ns = namespace() %}{% set ns.index = 5 %}{% set ns.flag = true %}{{ ns.index }} {{ ns.flag }}"));
    }

    [Fact]
    public void If_elif_else()
    {
        const string Source = "{% if x == 1 %}one{% elif x == 2 %}two{% elif x == 3 %}three{% else %}many{% endif %}";
        Assert.Equal("one", Render(Source, new Dictionary<string, object?> { ["x"] = 1 }));
        Assert.Equal("three", Render(Source, new Dictionary<string, object?> { ["x"] = 3 }));
        Assert.Equal("many", Render(Source, new Dictionary<string, object?> { ["x"] = 9 }));
    }

    [Fact]
    public void Macros_with_defaults_keywords_varargs_and_kwargs()
    {
        const string Macro = "{% macro tag(name, cls='x', close=true) %}<{{ name }} class={{ cls }}>{% if close %}</{{ name }}>{% endif %}{% endmacro %}";
        Assert.Equal("<p class=x></p>|<b class=y>", Render(Macro + "{{ tag('p') }}|{{ tag('b', close=false, cls='y') }}"));
        Assert.Equal("(3, 4)|{'k': 5}", Render("{% macro m(a, b) %}{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, 4, k=5) }}"));
        Assert.Equal("[]", Render("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}"));
    }

    [Fact]
    public void Macros_can_recurse()
    {
        Assert.Equal("3 2 1 ", Render("{% macro down(n) %}{% if n > 0 %}{{ n }} {{ down(n - 1) }}{% endif %}{% endmacro %}{{ down(3) }}"));
    }

    [Fact]
    public void Call_blocks_pass_their_body_as_caller()
    {
        Assert.Equal("<div>hello world</div>", Render("{% macro box() %}<div>{{ caller() }}</div>{% endmacro %}{% call box() %}hello {{ 'world' }}{% endcall %}"));
        Assert.Equal("[1][2]", Render("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}"));
    }

    [Fact]
    public void Filter_blocks_and_with_blocks()
    {
        Assert.Equal("HELLO", Render("{% filter upper %}hello{% endfilter %}"));
        Assert.Equal("3|", Render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}|{{ a }}"));
    }

    [Fact]
    public void Recursive_loops()
    {
        var tree = new Dictionary<string, object?>
        {
            ["tree"] = new object[]
            {
                new Dictionary<string, object?> { ["n"] = "a", ["kids"] = new object[] { new Dictionary<string, object?> { ["n"] = "b", ["kids"] = Array.Empty<object>() } } },
                new Dictionary<string, object?> { ["n"] = "c", ["kids"] = Array.Empty<object>() },
            },
        };
        Assert.Equal("a1(b2())c1()", Render("{% for item in tree recursive %}{{ item.n }}{{ loop.depth }}({{ loop(item.kids) }}){% endfor %}", tree));
    }

    [Fact]
    public void Generation_blocks_render_their_body()
    {
        Assert.Equal("x", Render("{% generation %}x{% endgeneration %}"));
    }

    [Fact]
    public void Strftime_now_reads_the_configured_clock()
    {
        var options = TemplateOptions.Default with { TimeProvider = new FixedTime(new DateTimeOffset(2024, 7, 26, 15, 4, 5, TimeSpan.Zero)) };
        Assert.Equal("26 Jul 2024 15:04:05 Friday", JinjaTemplate.Parse("{{ strftime_now('%d %b %Y %H:%M:%S %A') }}", options).Render());
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
