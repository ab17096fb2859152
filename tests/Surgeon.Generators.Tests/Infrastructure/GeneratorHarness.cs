using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>An architecture file handed to the generator as an AdditionalFiles item.</summary>
/// <param name="Path">Its path (the tests use a fake project at <see cref="GeneratorHarness.ProjectDir"/>).</param>
/// <param name="Text">Its content.</param>
/// <param name="SurgeonModel">Whether it carries <c>SurgeonModel="true"</c> metadata.</param>
/// <param name="SourceModel">Its <c>SurgeonSourceModel</c> metadata (the model file it was extracted from), if any.</param>
public sealed record ModelFile(string Path, string Text, bool SurgeonModel = false, string? SourceModel = null);

/// <summary>An in-memory AdditionalFiles item.</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    private readonly SourceText _text = SourceText.From(text);

    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}

/// <summary>Analyzer config options from dictionaries: global (build properties) and per additional file (item metadata).</summary>
public sealed class TestOptionsProvider(IReadOnlyDictionary<string, string> global, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> perFile)
    : AnalyzerConfigOptionsProvider
{
    public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(global);

    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;

    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
        perFile.TryGetValue(textFile.Path, out var values) ? new Options(values) : Options.Empty;

    private sealed class Options(IReadOnlyDictionary<string, string> values) : AnalyzerConfigOptions
    {
        public static readonly Options Empty = new(new Dictionary<string, string>());

        public override bool TryGetValue(string key, [NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
    }
}

/// <summary>The outcome of one generator run.</summary>
public sealed class GeneratorRun
{
    public required GeneratorDriver Driver { get; init; }

    public required CSharpCompilation Input { get; init; }

    public required Compilation Output { get; init; }

    /// <summary>Generated sources by hint name.</summary>
    public required IReadOnlyDictionary<string, string> Sources { get; init; }

    /// <summary>Diagnostics the generator reported.</summary>
    public required ImmutableArray<Diagnostic> GeneratorDiagnostics { get; init; }

    public GeneratorDriverRunResult Result => Driver.GetRunResult();

    /// <summary>Warnings and errors of the compilation with the generated sources (hidden and info excluded).</summary>
    public IReadOnlyList<Diagnostic> OutputProblems() =>
        Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning && !d.IsSuppressed).ToList();

    public string Single() => Assert.Single(Sources).Value;
}

/// <summary>
/// Runs the Surgeon generator on C# sources and in-memory architecture files, with step tracking on, and compiles the
/// result (style-anchors section 8.1).
/// </summary>
public static class GeneratorHarness
{
    public const string ProjectDir = "/proj/";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.CSharp12, DocumentationMode.Diagnose);

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(LoadReferences);

    public static CSharpCompilation Compile([StringSyntax("C#")] params string[] sources) => Compile(sources, withRuntime: true);

    /// <summary>A library compilation of <paramref name="sources"/> (files Plan0.cs, Plan1.cs ... in the project folder).</summary>
    public static CSharpCompilation Compile(IEnumerable<string> sources, bool withRuntime) =>
        CSharpCompilation.Create(
            "PlanTests",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"{ProjectDir}Plan{i}.cs")),
            withRuntime ? s_references.Value : s_references.Value.Where(r => !IsRuntime(r)),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private static bool IsRuntime(MetadataReference r) =>
        r is PortableExecutableReference { FilePath: { } path } && Path.GetFileName(path) is "Surgeon.Runtime.dll" or "TorchSharp.dll";

    public static GeneratorDriver CreateDriver(IEnumerable<ModelFile> models, string? projectDir = ProjectDir)
    {
        var files = models.ToList();
        var global = new Dictionary<string, string>();
        if (projectDir is not null) global["build_property.ProjectDir"] = projectDir;
        return CSharpGeneratorDriver.Create(
            new[] { new SurgeonGenerator().AsSourceGenerator() },
            files.Select(f => (AdditionalText)new InMemoryAdditionalText(f.Path, f.Text)),
            ParseOptions,
            Options(files, global),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
    }

    public static TestOptionsProvider Options(IEnumerable<ModelFile> files, Dictionary<string, string> global)
    {
        var perFile = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        foreach (var f in files)
        {
            var meta = new Dictionary<string, string>();
            if (f.SurgeonModel) meta["build_metadata.AdditionalFiles.SurgeonModel"] = "true";
            if (f.SourceModel is not null) meta["build_metadata.AdditionalFiles.SurgeonSourceModel"] = f.SourceModel;
            perFile[f.Path] = meta;
        }
        return new TestOptionsProvider(global, perFile);
    }

    public static GeneratorRun Run(IEnumerable<string> sources, IEnumerable<ModelFile> models, string? projectDir = ProjectDir) =>
        Run(CreateDriver(models, projectDir), Compile(sources.ToArray()));

    public static GeneratorRun Run([StringSyntax("C#")] string source, params ModelFile[] models) => Run(new[] { source }, models);

    public static GeneratorRun Run(GeneratorDriver driver, CSharpCompilation input)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out var output, out var diagnostics);
        var result = driver.GetRunResult();
        var sources = result.Results.SelectMany(r => r.GeneratedSources)
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
        return new GeneratorRun { Driver = driver, Input = input, Output = output, Sources = sources, GeneratorDiagnostics = diagnostics };
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll" or "Microsoft.Win32.Primitives.dll")
            .ToList();
        paths.Add(typeof(SurgeryPlanAttribute).Assembly.Location);
        paths.Add(typeof(KerasModel).Assembly.Location);
        paths.Add(typeof(TorchSharp.torch).Assembly.Location);
        return paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }
}
