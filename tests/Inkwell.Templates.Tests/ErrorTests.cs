namespace Inkwell.Templates.Tests;

/// <summary>Bad templates and runaway renders fail with a TemplateException that says where and what; never a crash or a hang.</summary>
public sealed class ErrorTests
{
    private static TemplateException ParseError(string source) => Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(source));

    private static TemplateException RenderError(string source, TemplateOptions? options = null) =>
        Assert.Throws<TemplateException>(() => JinjaTemplate.Parse(source, options).Render());

    [Theory]
    [InlineData("line1\n{{ 1 + }}", 2, 8, "expected an expression, found '}}'")]
    [InlineData("{% if x %}\nabc", 2, 4, "unexpected end of template: missing {% elif / else / endif %}")]
    [InlineData("{% endfor %}", 1, 4, "unexpected '{% endfor %}' without a matching opening tag")]
    [InlineData("{{ 'abc }}", 1, 4, "unterminated string literal")]
    [InlineData("a\n  {{ x", 2, 3, "unclosed expression: '{{' without a matching '}}'")]
    [InlineData("{# never closed", 1, 1, "unclosed comment: '{#' without a matching '#}'")]
    [InlineData("{% frobnicate %}", 1, 4, "unknown tag 'frobnicate'")]
    [InlineData("{% include 'other.jinja' %}", 1, 4, "'{% include %}' is not supported in chat templates")]
    [InlineData("{{ a ? b }}", 1, 6, "unexpected character '?' in expression")]
    [InlineData("{% for x of y %}{% endfor %}", 1, 10, "expected 'in' in for loop, found 'of'")]
    [InlineData("{% set true = 1 %}", 1, 8, "cannot assign to 'true'")]
    public void Syntax_errors_name_line_column_and_problem(string source, int line, int column, string problem)
    {
        var error = ParseError(source);
        Assert.Equal(problem, error.Problem);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.Equal($"line {line}, column {column}: {problem}", error.Message);
    }

    [Theory]
    [InlineData("\n\n{{ 'a' | nosuchfilter }}", 3, 10, "unknown filter 'nosuchfilter'")]
    [InlineData("{{ 'a' + 1 }}", 1, 8, "unsupported operand types for +: 'string' and 'int'")]
    [InlineData("{{ 'a' + nope }}", 1, 8, "unsupported operand types for +: 'string' and undefined ('nope' is undefined)")]
    [InlineData("{{ foo() }}", 1, 4, "'foo' is undefined, so it cannot be called")]
    [InlineData("{{ 1 < 'a' }}", 1, 6, "'<' not supported between 'int' and 'string'")]
    [InlineData("{{ 1 // 0 }}", 1, 6, "integer division by zero")]
    [InlineData("{{ x is frobbed }}", 1, 9, "unknown test 'frobbed'")]
    [InlineData("{% for a, b in [1] %}{% endfor %}", 1, 1, "cannot unpack int into 2 variables (a, b)")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", 1, 16, "cannot assign attribute 'y' on 'x': only namespace() objects accept attribute assignment")]
    [InlineData("{% break %}", 1, 1, "'break' outside a loop")]
    [InlineData("{{ [1][::0] }}", 1, 7, "slice step cannot be zero")]
    [InlineData("{{ {} | tojson }}{{ nope | tojson }}", 1, 28, "tojson cannot serialize an undefined value ('nope' is undefined)")]
    public void Runtime_errors_name_line_column_and_problem(string source, int line, int column, string problem)
    {
        var error = RenderError(source);
        Assert.Equal(problem, error.Problem);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.False(error.RaisedByTemplate);
    }

    [Fact]
    public void Raise_exception_carries_the_template_message()
    {
        var error = RenderError("{% if true %}\n  {{ raise_exception('bad ' ~ 'input') }}{% endif %}");
        Assert.True(error.RaisedByTemplate);
        Assert.Equal("bad input", error.Problem);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Deep_nesting_is_rejected_while_parsing()
    {
        var error = ParseError("{{ " + new string('(', 10_000) + "1" + new string(')', 10_000) + " }}");
        Assert.Contains("nests deeper than 200 levels", error.Problem);
        ParseError(string.Concat(Enumerable.Repeat("{% if true %}", 10_000)));
        ParseError("{{ " + string.Concat(Enumerable.Repeat("not ", 10_000)) + "1 }}");
        ParseError("{{ " + string.Concat(Enumerable.Repeat("-", 10_000)) + "1 }}");
    }

    [Fact]
    public void Unbounded_macro_recursion_stops_at_the_call_depth_limit()
    {
        var error = RenderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        Assert.Contains("macro calls nest deeper than 100 levels", error.Problem);
    }

    [Fact]
    public void Long_loops_stop_at_the_step_limit()
    {
        var options = TemplateOptions.Default with { MaxSteps = 10_000 };
        var error = RenderError("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", options);
        Assert.Contains("more than 10000 steps", error.Problem);
    }

    [Fact]
    public void Huge_ranges_are_refused()
    {
        Assert.Contains("range() would create 1000000000 items", RenderError("{% for i in range(1000000000) %}{% endfor %}").Problem);
    }

    [Fact]
    public void Output_and_string_sizes_are_bounded()
    {
        var small = TemplateOptions.Default with { MaxOutputChars = 1000 };
        Assert.Contains("template output exceeds 1000 characters", RenderError("{% for i in range(100) %}{{ 'x' * 50 }}{% endfor %}", small).Problem);
        Assert.Contains("repetition would exceed", RenderError("{{ 'x' * 100000000000 }}").Problem);
        Assert.Contains("string longer than", RenderError("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}").Problem);
    }

    [Fact]
    public void Unsupported_input_types_are_argument_errors()
    {
        var error = Assert.Throws<ArgumentException>(() => JinjaTemplate.Parse("{{ x }}").Render(new Dictionary<string, object?> { ["x"] = new Uri("http://a") }));
        Assert.Contains("System.Uri", error.Message);
    }
}
