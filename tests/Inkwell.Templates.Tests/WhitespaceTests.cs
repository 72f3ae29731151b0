namespace Inkwell.Templates.Tests;

/// <summary>Whitespace control and the trim_blocks / lstrip_blocks behaviour Hugging Face renders with (Jinja documentation examples).</summary>
public sealed class WhitespaceTests
{
    private static string Render(string source) => JinjaTemplate.Parse(source).Render();

    [Theory]
    [InlineData("a  {%- if true %}b{% endif %}", "ab")]
    [InlineData("{% if true -%}   \n  b{% endif %}", "b")]
    [InlineData("a \n {{- 'b' -}} \n c", "abc")]
    [InlineData("x {#- note -#} y", "xy")]
    public void Minus_strips_all_whitespace_on_its_side(string source, string expected) => Assert.Equal(expected, Render(source));

    [Fact]
    public void Trim_blocks_removes_the_first_newline_after_a_block_tag()
    {
        Assert.Equal("hello\n", Render("{% if true %}\nhello\n{% endif %}\n"));
    }

    [Fact]
    public void Lstrip_blocks_removes_indentation_before_block_tags_only()
    {
        Assert.Equal("    x\n", Render("    {% if true %}\n    x\n    {% endif %}\n"));
        Assert.Equal("  a\n  b", Render("  {{ 'a' }}\n  {{ 'b' }}"));
    }

    [Fact]
    public void Lstrip_blocks_does_not_strip_text_before_a_tag_on_the_same_line()
    {
        Assert.Equal("x y", Render("x {% if true %}y{% endif %}"));
    }

    [Fact]
    public void Plus_disables_lstrip_and_trim()
    {
        Assert.Equal("  x", Render("  {%+ if true %}x{% endif %}"));
        Assert.Equal("\nx", Render("{% if true +%}\nx{% endif %}"));
    }

    [Fact]
    public void Comments_render_nothing_and_follow_block_whitespace_rules()
    {
        Assert.Equal("a  b", Render("a {# comment #} b"));
        Assert.Equal("x", Render("  {# comment #}\nx"));
    }

    [Fact]
    public void A_single_trailing_newline_is_dropped_and_crlf_is_normalized()
    {
        Assert.Equal("a\nb", Render("a\r\nb\n"));
        Assert.Equal("a\n", Render("a\n\n"));
    }

    [Fact]
    public void Raw_blocks_are_not_interpreted()
    {
        Assert.Equal("{{ x }}{% if %}", Render("{% raw %}{{ x }}{% if %}{% endraw %}"));
    }

    [Fact]
    public void Braces_inside_an_expression_do_not_end_it()
    {
        Assert.Equal("1", Render("{{ {'a': {'b': 1}}['a']['b'] }}"));
    }
}
