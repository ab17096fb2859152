using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Surgeon.Generators.Analyzers;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>The analyzer checks constant channel arguments of <c>PlanBuilder.DeleteChannels</c> against generated handles.</summary>
public sealed class FluentChannelsAnalyzerTests
{
    [Fact]
    public void ConstantChannels_AreCheckedAtTheirArguments()
    {
        var diagnostics = Analyze("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            internal static partial class Plan
            {
                static partial void Configure(PlanBuilder plan)
                {
                    plan.DeleteChannels(Layers.Dense1, 1, {|SRG006:16|}, 3, {|SRG008:3|});
                    plan.DeleteChannels(Layers.Dense2, new[] { {|SRG006:-1|} });
                }
            }
            """);

        Assert.Equal("Channel index 16 is out of range for layer 'dense_1' (Dense, 16 channels: 0 to 15)", Message(diagnostics[0]));
        Assert.Equal("Channel 3 is listed more than once for layer 'dense_1'; it is deleted once", Message(diagnostics[1]));
        Assert.Equal("Channel index -1 is out of range for layer 'dense_2' (Dense, 4 channels: 0 to 3)", Message(diagnostics[2]));
    }

    [Fact]
    public void EveryChannelOrNone_IsReportedOnTheCall()
    {
        var diagnostics = Analyze("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            internal static partial class Plan
            {
                static partial void Configure(PlanBuilder plan)
                {
                    {|SRG009:plan.DeleteChannels(Layers.Dense2, 0, 1, 2, 3)|};
                    {|SRG011:plan.DeleteChannels(Layers.Dense1)|};
                }
            }
            """);

        Assert.Equal("DeleteChannels on layer 'dense_2' lists all of its 4 channels, which would remove the layer's output; delete the layer instead", Message(diagnostics[0]));
        Assert.Equal("DeleteChannels on layer 'dense_1' lists no channels", Message(diagnostics[1]));
    }

    [Fact]
    public void ChannelsComputedAtRunTime_AreLeftToTheRuntime()
    {
        Analyze("""
            using System.Linq;
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            internal static partial class Plan
            {
                static partial void Configure(PlanBuilder plan)
                {
                    var last = Layers.Dense1.ChannelCount - 1;
                    plan.DeleteChannels(Layers.Dense1, Enumerable.Range(0, 99));
                    plan.DeleteChannels(Layers.Dense2, last, 0);
                }
            }
            """);
    }

    private static List<Diagnostic> Analyze([StringSyntax("C#")] string marked)
    {
        var (source, expected) = Markup.Parse(marked);
        var run = GeneratorHarness.Run(source, new ModelFile("/proj/models/dense3.json", TestArchitectures.Dense3));
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.OutputProblems());
        var analyzed = run.Output.WithAnalyzers(ImmutableArray.Create<DiagnosticAnalyzer>(new FluentChannelsAnalyzer()))
            .GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        return Markup.AssertDiagnostics(analyzed, expected, run.Output);
    }

    private static string Message(Diagnostic d) => d.GetMessage(CultureInfo.InvariantCulture);
}
