using System.Reflection;
using Microsoft.CodeAnalysis;
using Surgeon.Generators.Diagnostics;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>Every diagnostic has a release-tracking row, a docs page with a bad and a fixed example, and a unique ID.</summary>
public sealed class ReleaseTrackingTests
{
    public static TheoryData<string> Ids()
    {
        var data = new TheoryData<string>();
        foreach (var d in Descriptors()) data.Add(d.Id);
        return data;
    }

    [Fact]
    public void Ids_AreUniqueAndSequential()
    {
        var ids = Descriptors().Select(d => d.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => $"SRG{i:000}"), ids.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Diagnostic_IsTrackedAndDocumented(string id)
    {
        var descriptor = Descriptors().Single(d => d.Id == id);
        var generator = Path.Combine(Fixtures.RepoRoot, "src", "Surgeon.Generators");
        var rows = File.ReadAllLines(Path.Combine(generator, "AnalyzerReleases.Unshipped.md"))
            .Concat(File.ReadAllLines(Path.Combine(generator, "AnalyzerReleases.Shipped.md")))
            .Where(l => l.StartsWith(id + " ", StringComparison.Ordinal)).ToList();
        var row = Assert.Single(rows);
        Assert.Contains($"| {descriptor.Category} | {descriptor.DefaultSeverity} |", row);

        Assert.Equal($"docs/diagnostics/{id}.md", descriptor.HelpLinkUri);
        var page = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "docs", "diagnostics", id + ".md"));
        Assert.StartsWith($"# {id}: {descriptor.Title}", page);
        Assert.Contains("## Bad", page);
        Assert.Contains("## Fixed", page);
        Assert.Contains($"#pragma warning disable {id}", page);
    }

    private static IEnumerable<DiagnosticDescriptor> Descriptors() =>
        typeof(DiagnosticDescriptors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!);
}
