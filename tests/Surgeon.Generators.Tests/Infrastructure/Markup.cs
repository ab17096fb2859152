using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>An expected diagnostic: its ID and the span marked in the source.</summary>
public sealed record ExpectedDiagnostic(string Id, TextSpan Span, int Tree);

/// <summary>
/// Diagnostic markup in test sources (style-anchors section 8.3): <c>{|SRG005:"conv9"|}</c> marks the span where
/// SRG005 is expected. <see cref="Parse"/> strips the markup and records the IDs and spans.
/// </summary>
public static partial class Markup
{
    public static (string Source, List<ExpectedDiagnostic> Expected) Parse(string marked, int tree = 0)
    {
        var sb = new StringBuilder();
        var expected = new List<ExpectedDiagnostic>();
        var open = new Stack<(string Id, int Start)>();
        var i = 0;
        while (i < marked.Length)
        {
            var m = OpenTag().Match(marked, i);
            if (m.Success && m.Index == i)
            {
                open.Push((m.Groups[1].Value, sb.Length));
                i += m.Length;
                continue;
            }
            if (string.CompareOrdinal(marked, i, "|}", 0, 2) == 0 && open.Count > 0)
            {
                var (id, start) = open.Pop();
                expected.Add(new ExpectedDiagnostic(id, TextSpan.FromBounds(start, sb.Length), tree));
                i += 2;
                continue;
            }
            sb.Append(marked[i++]);
        }
        return (sb.ToString(), expected);
    }

    /// <summary>
    /// Asserts that <paramref name="actual"/> holds exactly the expected diagnostics (ID and span), and returns them in
    /// the order expected, so the caller can assert their messages. Fails on anything left over, printing the markup to add.
    /// </summary>
    public static List<Diagnostic> AssertDiagnostics(IEnumerable<Diagnostic> actual, IReadOnlyList<ExpectedDiagnostic> expected, Compilation compilation)
    {
        var left = actual.ToList();
        var matched = new List<Diagnostic>();
        foreach (var e in expected)
        {
            var tree = compilation.SyntaxTrees.ElementAt(e.Tree);
            var hit = left.FirstOrDefault(d => d.Id == e.Id && d.Location.SourceTree == tree && d.Location.SourceSpan == e.Span);
            Assert.True(hit is not null, $"Expected {e.Id} at {e.Span} not reported. Reported: {string.Join("; ", left.Select(Describe))}");
            left.Remove(hit!);
            matched.Add(hit!);
        }
        Assert.True(left.Count == 0, "Unasserted diagnostics (add markup for them): " + string.Join("; ", left.Select(Describe)));
        return matched;
    }

    public static string Describe(Diagnostic d)
    {
        var span = d.Location.GetLineSpan();
        var text = d.Location.SourceTree?.GetText().ToString(d.Location.SourceSpan) ?? "";
        return $"{d.Id} {d.Severity} ({span.StartLinePosition.Line + 1},{span.StartLinePosition.Character + 1})-({span.EndLinePosition.Line + 1},{span.EndLinePosition.Character + 1}) on `{text}`: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    [GeneratedRegex(@"\{\|(SRG\d{3}):")]
    private static partial Regex OpenTag();
}
