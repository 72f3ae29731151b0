namespace Inkwell.Templates;

/// <summary>
/// A parsed Jinja template, rendered the way Hugging Face renders chat templates (trim_blocks and
/// lstrip_blocks on, no autoescaping, undefined values lenient). Parse once, render many times; thread-safe.
/// </summary>
public sealed class JinjaTemplate
{
    private readonly IReadOnlyList<Stmt> _body;
    private readonly LineMap _lines;

    private JinjaTemplate(string source, IReadOnlyList<Stmt> body, LineMap lines, TemplateOptions options)
    {
        Source = source;
        _body = body;
        _lines = lines;
        Options = options;
    }

    public string Source { get; }

    public TemplateOptions Options { get; }

    /// <summary>Parses <paramref name="source"/>; syntax errors are <see cref="TemplateException"/>s with line and column.</summary>
    public static JinjaTemplate Parse(string source, TemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= TemplateOptions.Default;
        var whitespace = WhitespaceOptions.HuggingFace;
        var normalized = Lexer.NormalizeSource(source, whitespace);
        var lines = new LineMap(normalized);
        var tokens = Lexer.Tokenize(normalized, whitespace, lines);
        var body = Parser.Parse(tokens, lines, options.MaxNestingDepth);
        return new JinjaTemplate(source, body, lines, options);
    }

    /// <summary>
    /// Renders with the given variables: string, bool, integers, floating point, null, lists/enumerables,
    /// dictionaries with string keys, and <see cref="System.Text.Json.JsonElement"/>, nested freely.
    /// </summary>
    public string Render(IReadOnlyDictionary<string, object?>? variables = null)
    {
        var converted = new List<KeyValuePair<string, object?>>();
        if (variables is not null)
        {
            foreach (var (name, value) in variables) converted.Add(new(name, Values.FromDotNet(value)));
        }
        return RenderConverted(converted);
    }

    /// <summary>Renders with variables already converted to template values (no copy).</summary>
    internal string RenderConverted(IEnumerable<KeyValuePair<string, object?>> variables)
    {
        var globals = new Scope(null);
        Globals.AddTo(globals);
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, value);
        try
        {
            return new Evaluator(Options, _lines).Render(_body, scope);
        }
        catch (InsufficientExecutionStackException e)
        {
            throw new TemplateException("template nests too deeply to render", 0, 0, inner: e);
        }
    }
}
