namespace Inkwell.Templates;

/// <summary>
/// A problem with a template: a syntax error found while parsing, or an error while rendering
/// (including a template's own <c>raise_exception(...)</c>). Line and column are 1-based and point into
/// the template source; they are 0 when the problem has no location (for example a bad input value).
/// </summary>
public class TemplateException : Exception
{
    public TemplateException(string problem, int line, int column, bool raisedByTemplate = false, Exception? inner = null)
        : base(line > 0 ? $"line {line}, column {column}: {problem}" : problem, inner)
    {
        Problem = problem;
        Line = line;
        Column = column;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>The problem alone, without the location prefix.</summary>
    public string Problem { get; }

    public int Line { get; }

    public int Column { get; }

    /// <summary>True when the template itself called <c>raise_exception</c> (the message is the template's).</summary>
    public bool RaisedByTemplate { get; }
}

/// <summary>Maps character offsets in a template source to 1-based line and column numbers.</summary>
internal sealed class LineMap
{
    private readonly int[] _lineStarts;

    public LineMap(string source)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < source.Length; i++)
        {
            if (source[i] == '\n') starts.Add(i + 1);
        }
        _lineStarts = [.. starts];
    }

    public (int Line, int Column) Locate(int offset)
    {
        var index = Array.BinarySearch(_lineStarts, offset);
        if (index < 0) index = ~index - 1;
        return (index + 1, offset - _lineStarts[index] + 1);
    }

    public TemplateException Error(string problem, int offset, bool raisedByTemplate = false, Exception? inner = null)
    {
        var (line, column) = Locate(offset);
        return new TemplateException(problem, line, column, raisedByTemplate, inner);
    }
}
