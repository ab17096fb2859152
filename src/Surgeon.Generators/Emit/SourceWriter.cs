using System.Text;

namespace Surgeon.Generators.Emit;

/// <summary>Writes indented C# text line by line (four spaces a level, <c>\n</c> line ends).</summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public SourceWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

    public SourceWriter Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
        return this;
    }

    public SourceWriter Close()
    {
        _indent--;
        return Line("}");
    }

    public override string ToString() => _sb.ToString();
}
