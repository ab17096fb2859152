using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using Surgeon.Generators.Diagnostics;

namespace Surgeon.Generators.Analyzers;

/// <summary>
/// Checks constant channel arguments of the fluent form, <c>plan.DeleteChannels(Layers.Conv2d1, 0, 99)</c>, against
/// the channel count the handle was generated with, reporting the attribute form's diagnostics at each argument:
/// SRG006 (out of range), SRG008 (listed twice), SRG009 (every channel), SRG011 (none). Indices computed at run time
/// are left to the runtime's checks.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class FluentChannelsAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DiagnosticDescriptors.ChannelOutOfRange,
        DiagnosticDescriptors.DuplicateChannel,
        DiagnosticDescriptors.DeletesEveryChannel,
        DiagnosticDescriptors.NoChannelsGiven);

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var builder = start.Compilation.GetTypeByMetadataName(KnownNames.PlanBuilder);
            var handle = start.Compilation.GetTypeByMetadataName(KnownNames.ChannelLayerHandle);
            if (builder is null || handle is null) return;
            start.RegisterOperationAction(c => Analyze(c, builder, handle), OperationKind.Invocation);
        });
    }

    private static void Analyze(OperationAnalysisContext context, INamedTypeSymbol builder, INamedTypeSymbol handleType)
    {
        var invocation = (IInvocationOperation)context.Operation;
        var method = invocation.TargetMethod;
        if (method.Name != "DeleteChannels" || !SymbolEqualityComparer.Default.Equals(method.ContainingType, builder) || invocation.Arguments.Length != 2) return;
        if (Handle(invocation.Arguments[0].Value, handleType, context.CancellationToken) is not { } target) return;
        if (Channels(invocation.Arguments[1]) is not { } channels) return;

        if (channels.Count == 0)
        {
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.NoChannelsGiven, invocation.Syntax.GetLocation(), target.Layer));
            return;
        }
        var valid = true;
        var distinct = new List<int>();
        foreach (var (value, syntax) in channels)
        {
            if (value < 0 || value >= target.Count)
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.ChannelOutOfRange, syntax.GetLocation(), value, target.Layer, target.ClassName, target.Count, target.Count - 1));
                valid = false;
            }
            else if (distinct.Contains(value))
            {
                context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.DuplicateChannel, syntax.GetLocation(), value, target.Layer));
            }
            else
            {
                distinct.Add(value);
            }
        }
        if (valid && distinct.Count == target.Count)
            context.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.DeletesEveryChannel, invocation.Syntax.GetLocation(), target.Layer, target.Count));
    }

    /// <summary>
    /// The layer name, class and channel count of a static readonly <c>ChannelLayerHandle</c> field initialised with
    /// constants (as the generator writes them), read from the field's declaration; null otherwise.
    /// </summary>
    private static (string Layer, string ClassName, int Count)? Handle(IOperation value, INamedTypeSymbol handleType, System.Threading.CancellationToken ct)
    {
        while (value is IConversionOperation conversion) value = conversion.Operand;
        if (value is not IFieldReferenceOperation { Field: { IsStatic: true, IsReadOnly: true } field } || !SymbolEqualityComparer.Default.Equals(field.Type, handleType))
            return null;
        foreach (var reference in field.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(ct) is VariableDeclaratorSyntax { Initializer.Value: BaseObjectCreationExpressionSyntax { ArgumentList.Arguments: { Count: 3 } args } }
                && args[0].Expression is LiteralExpressionSyntax { Token.Value: string layer }
                && args[1].Expression is LiteralExpressionSyntax { Token.Value: string className }
                && args[2].Expression is LiteralExpressionSyntax { Token.Value: int count })
            {
                return (layer, className, count);
            }
        }
        return null;
    }

    /// <summary>The channel arguments when all are constants (a params list or an array creation); null otherwise.</summary>
    private static List<(int Value, SyntaxNode Syntax)>? Channels(IArgumentOperation argument)
    {
        var value = argument.Value;
        while (value is IConversionOperation conversion) value = conversion.Operand;
        if (value is not IArrayCreationOperation { Initializer: { } initializer }) return null;
        var result = new List<(int, SyntaxNode)>();
        foreach (var element in initializer.ElementValues)
        {
            if (element.ConstantValue is not { HasValue: true, Value: int channel }) return null;
            result.Add((channel, element.Syntax));
        }
        return result;
    }
}
