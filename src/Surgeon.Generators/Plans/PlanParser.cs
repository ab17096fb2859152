using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Surgeon.Generators.Diagnostics;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Plans;

/// <summary>
/// The transform of the <c>PlanDeclarations</c> step: reads a <c>[SurgeryPlan]</c> class and its job attributes into
/// strings and numbers (<see cref="PlanDeclaration"/>). Roslyn objects end here, except the locations side-car used
/// only for diagnostics.
/// </summary>
internal static class PlanParser
{
    public static PlanParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var node = (TypeDeclarationSyntax)context.TargetNode;
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        var planAttribute = context.Attributes[0];
        var identifier = node.Identifier.GetLocation();
        var modelPathLocation = Argument(planAttribute, 0, ct)?.GetLocation() ?? identifier;
        var fullName = symbol.ToDisplayString();
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        var empty = new PlanLocations(identifier, modelPathLocation, EquatableArray<JobLocations>.Empty);

        foreach (var type in node.AncestorsAndSelf().OfType<TypeDeclarationSyntax>())
        {
            if (!type.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PlanMustBePartial, identifier, fullName, type.Identifier.ValueText));
                return new PlanParseResult(null, empty, diagnostics.ToEquatableArray());
            }
        }
        for (var t = symbol; t is not null; t = t.ContainingType)
        {
            if (t.TypeParameters.Length > 0)
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.PlanMustNotBeGeneric, identifier, fullName));
                return new PlanParseResult(null, empty, diagnostics.ToEquatableArray());
            }
        }

        var modelPath = planAttribute.ConstructorArguments.Length > 0 ? planAttribute.ConstructorArguments[0].Value as string : null;
        var jobs = new List<(JobDeclaration Job, JobLocations Where, int Position)>();
        foreach (var attribute in symbol.GetAttributes())
        {
            ct.ThrowIfCancellationRequested();
            var kind = KindOf(attribute.AttributeClass);
            if (kind is null || attribute.ApplicationSyntaxReference is not { } reference) continue;
            var syntax = (AttributeSyntax)reference.GetSyntax(ct);
            if (reference.SyntaxTree != node.SyntaxTree || !node.AttributeLists.Any(l => l.Span.Contains(syntax.Span)))
            {
                var shortName = kind == JobKind.DeleteChannels ? "DeleteChannels" : "DeleteLayer";
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.JobOnOtherDeclaration, syntax.GetLocation(), shortName, fullName));
                continue;
            }
            var args = attribute.ConstructorArguments;
            if (args.Length == 0 || args[0].Kind == TypedConstantKind.Error) continue; // the compiler reports bad arguments
            var layer = args[0].Value as string;
            var arguments = syntax.ArgumentList?.Arguments ?? default;
            var layerLocation = arguments.Count > 0 ? arguments[0].GetLocation() : syntax.GetLocation();
            var channels = ImmutableArray<int>.Empty;
            var channelLocations = ImmutableArray<Location>.Empty;
            if (kind == JobKind.DeleteChannels)
            {
                if (args.Length < 2 || args[1].Kind != TypedConstantKind.Array) continue;
                channels = args[1].IsNull ? ImmutableArray<int>.Empty : args[1].Values.Select(v => v.Value is int i ? i : 0).ToImmutableArray();
                // Expanded params form: one argument per channel; otherwise (an explicit array) the array argument for all.
                var expanded = arguments.Count == 1 + channels.Length && !(channels.Length == 1 && arguments[1].Expression is ArrayCreationExpressionSyntax or ImplicitArrayCreationExpressionSyntax or CollectionExpressionSyntax);
                channelLocations = channels.Select((_, i) => expanded ? arguments[1 + i].GetLocation()
                    : arguments.Count > 1 ? arguments[1].GetLocation() : syntax.GetLocation()).ToImmutableArray();
            }
            jobs.Add((new JobDeclaration(kind.Value, layer, channels.ToEquatableArray()),
                new JobLocations(syntax.GetLocation(), layerLocation, channelLocations.ToEquatableArray()), syntax.SpanStart));
        }
        jobs.Sort((a, b) => a.Position.CompareTo(b.Position));

        var containing = new List<ContainingType>();
        for (var t = symbol.ContainingType; t is not null; t = t.ContainingType)
        {
            containing.Insert(0, new ContainingType(Keyword(t), t.Name));
        }
        var declaration = new PlanDeclaration(
            symbol.ContainingNamespace.IsGlobalNamespace ? null : symbol.ContainingNamespace.ToDisplayString(),
            containing.ToEquatableArray(),
            Keyword(symbol),
            symbol.Name,
            fullName,
            modelPath,
            jobs.Select(j => j.Job).ToEquatableArray());
        var locations = new PlanLocations(identifier, modelPathLocation, jobs.Select(j => j.Where).ToEquatableArray());
        return new PlanParseResult(declaration, locations, diagnostics.ToEquatableArray());
    }

    private static AttributeArgumentSyntax? Argument(AttributeData attribute, int index, CancellationToken ct) =>
        attribute.ApplicationSyntaxReference?.GetSyntax(ct) is AttributeSyntax { ArgumentList: { } list } && list.Arguments.Count > index
            ? list.Arguments[index]
            : null;

    private static JobKind? KindOf(INamedTypeSymbol? type)
    {
        if (type is null || type.ContainingNamespace is not { Name: "Surgeon" } ns || !ns.ContainingNamespace.IsGlobalNamespace) return null;
        var name = "Surgeon." + type.MetadataName;
        if (name == KnownNames.DeleteChannelsAttribute) return JobKind.DeleteChannels;
        if (name == KnownNames.DeleteLayerAttribute) return JobKind.DeleteLayer;
        return null;
    }

    private static string Keyword(INamedTypeSymbol type) => type switch
    {
        { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
        { IsRecord: true } => "record",
        { TypeKind: TypeKind.Struct } => "struct",
        { TypeKind: TypeKind.Interface } => "interface",
        _ => "class",
    };
}
