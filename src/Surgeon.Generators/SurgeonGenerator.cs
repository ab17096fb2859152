using System;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Surgeon.Generators.Architecture;
using Surgeon.Generators.Model;
using Surgeon.Generators.Plans;

namespace Surgeon.Generators;

/// <summary>
/// Generates typed layer handles and job code into every <c>[SurgeryPlan]</c> partial class, from the model
/// architecture that reaches the compiler as an AdditionalFiles item. Hermetic: it reads no files itself.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class SurgeonGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // S0: reduce the compilation to the one fact the binder needs, so unrelated edits stay Unchanged.
        IncrementalValueProvider<CompilationFacts> facts = context.CompilationProvider
            .Select(static (compilation, _) => new CompilationFacts(compilation.GetTypeByMetadataName(KnownNames.PlanBuilder) is not null))
            .WithTrackingName(SurgeonStepNames.CompilationFacts);

        // S1: candidate architecture files (SurgeonModel="true" or *.json), each parsed once per change.
        IncrementalValuesProvider<ArchitectureResult> architectures = context.AdditionalTextsProvider
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Where(static pair => IsCandidate(pair.Left, pair.Right))
            .Select(static (pair, ct) => ArchitectureParser.Parse(
                pair.Left.Path,
                Metadata(pair.Right.GetOptions(pair.Left), KnownNames.SurgeonSourceModelMetadata),
                pair.Left.GetText(ct)?.ToString(),
                ct))
            .WithTrackingName(SurgeonStepNames.Architectures);

        IncrementalValueProvider<ArchitectureCatalog> catalog = architectures
            .Collect()
            .Combine(context.AnalyzerConfigOptionsProvider.Select(static (options, _) => Metadata(options.GlobalOptions, KnownNames.ProjectDirProperty)))
            .Select(static (pair, _) => new ArchitectureCatalog(pair.Right, pair.Left.OrderBy(a => a.Path, StringComparer.Ordinal).ToEquatableArray()))
            .WithTrackingName(SurgeonStepNames.ArchitectureSet);

        // S2: one entry per [SurgeryPlan] class; Roslyn objects end here (locations travel only for diagnostics).
        IncrementalValuesProvider<PlanParseResult> declarations = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                KnownNames.SurgeryPlanAttribute,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax { ClassOrStructKeyword.RawKind: not (int)SyntaxKind.StructKeyword },
                static (ctx, ct) => PlanParser.Parse(ctx, ct))
            .WithTrackingName(SurgeonStepNames.PlanDeclarations);

        // S3: bind each plan to its architecture.
        IncrementalValuesProvider<PlanBindResult> bound = declarations
            .Combine(catalog)
            .Combine(facts)
            .Select(static (pair, ct) => PlanBinder.Bind(pair.Left.Left, pair.Left.Right, pair.Right, ct))
            .WithTrackingName(SurgeonStepNames.BoundPlans);

        // S4: the caching firewall (equatable specs); S5: diagnostics with their real source locations.
        IncrementalValuesProvider<PlanSpec> specs = bound
            .Where(static result => result.Spec is not null)
            .Select(static (result, _) => result.Spec!)
            .WithTrackingName(SurgeonStepNames.PlanSpecs);
        IncrementalValuesProvider<EquatableArray<Diagnostic>> diagnostics = bound
            .Select(static (result, _) => result.Diagnostics)
            .WithTrackingName(SurgeonStepNames.PlanDiagnostics);

        context.RegisterSourceOutput(specs, static (spc, spec) =>
            spc.AddSource(PlanEmitter.HintName(spec), SourceText.From(PlanEmitter.Emit(spec, spc.CancellationToken), System.Text.Encoding.UTF8)));
        context.RegisterSourceOutput(diagnostics, static (spc, list) =>
        {
            foreach (var diagnostic in list) spc.ReportDiagnostic(diagnostic);
        });
    }

    private static bool IsCandidate(AdditionalText file, AnalyzerConfigOptionsProvider options) =>
        string.Equals(Metadata(options.GetOptions(file), KnownNames.SurgeonModelMetadata), "true", StringComparison.OrdinalIgnoreCase)
        || file.Path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    private static string? Metadata(AnalyzerConfigOptions options, string key) =>
        options.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value) ? value : null;
}
