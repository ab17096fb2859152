using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>
/// One test per diagnostic: its ID, severity, message and span (marked in the source as <c>{|SRGnnn:...|}</c>), with
/// nothing else reported; and, for valid input left beside an invalid job, output that still compiles.
/// </summary>
public sealed class DiagnosticTests
{
    private static readonly ModelFile Dense3 = new("/proj/models/dense3.json", TestArchitectures.Dense3);

    [Fact]
    public void SRG001_PlanNotPartial()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            public static class {|SRG001:Plan|} { }
            """);
        Assert.Equal("Surgery plan 'App.Plan' must be declared partial, as must every type that contains it ('Plan' is not)", Message(d));
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void SRG001_ContainingTypeNotPartial()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            public static class Outer
            {
                [SurgeryPlan("models/dense3.json")]
                public static partial class {|SRG001:Plan|} { }
            }
            """);
        Assert.Equal("Surgery plan 'App.Outer.Plan' must be declared partial, as must every type that contains it ('Outer' is not)", Message(d));
    }

    [Fact]
    public void SRG002_GenericPlan()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            public partial class {|SRG002:Plan|}<T> { }
            """);
        Assert.Equal("Surgery plan 'App.Plan<T>' cannot be generic or nested in a generic type", Message(d));
    }

    [Fact]
    public void SRG003_ModelNotAmongAdditionalFiles()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan({|SRG003:"models/missing.h5"|})]
            public static partial class Plan { }
            """);
        Assert.Equal("Model 'models/missing.h5' of surgery plan 'App.Plan' is not among the AdditionalFiles: list it in the project file as <SurgeonModel Include=\"models/missing.h5\" /> " +
            "(the Surgeon package's build step extracts 'missing.h5.architecture.json' from a .h5 or .keras file; an architecture .json is passed as it is)", Message(d));
    }

    [Fact]
    public void SRG004_MalformedJson()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan({|SRG004:"models/broken.json"|})]
            public static partial class Plan { }
            """, new ModelFile("/proj/models/broken.json", "{\"class_name\": \"Sequential\",\n \"config\": [1, 2,]}"));
        Assert.Equal("The architecture of model 'models/broken.json' ('broken.json') cannot be read: it is not valid JSON: unexpected character ']' (line 2, column 18)", Message(d));
    }

    [Fact]
    public void SRG004_JsonThatIsNotAKerasModel()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan({|SRG004:"appsettings.json"|})]
            public static partial class Plan { }
            """, new ModelFile("/proj/appsettings.json", "{\"Logging\": {}}"));
        Assert.Equal("The architecture of model 'appsettings.json' ('appsettings.json') cannot be read: it is JSON but not a Keras architecture (no 'class_name' and 'config')", Message(d));
    }

    [Fact]
    public void SRG005_UnknownLayer_SuggestsTheClosestName()
    {
        var run = Run("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels({|SRG005:"dense_9"|}, 1)]
            [DeleteLayer("dropout_1")]
            internal static partial class Plan { }
            """, out var diagnostics);
        var d = Assert.Single(diagnostics);
        Assert.Equal("Model 'dense3' has no layer named 'dense_9'. Did you mean 'dense_1'?", Message(d));
        Assert.Contains("plan.DeleteLayer(Layers.Dropout1);", run.Single());
        Assert.Empty(run.OutputProblems());
    }

    [Fact]
    public void SRG006_ChannelOutOfRange_EachIndexAtItsArgument()
    {
        var run = Run("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels("dense_2", 1, {|SRG006:4|}, {|SRG006:-1|})]
            public static partial class Plan { }
            """, out var diagnostics);
        Assert.Equal("Channel index 4 is out of range for layer 'dense_2' (Dense, 4 channels: 0 to 3)", Message(diagnostics[0]));
        Assert.Equal("Channel index -1 is out of range for layer 'dense_2' (Dense, 4 channels: 0 to 3)", Message(diagnostics[1]));
        Assert.DoesNotContain("plan.DeleteChannels", run.Single());
    }

    [Fact]
    public void SRG006_ExplicitArray_ReportedOnTheArray()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels("dense_2", {|SRG006:new[] { 7 }|})]
            public static partial class Plan { }
            """);
        Assert.Equal("Channel index 7 is out of range for layer 'dense_2' (Dense, 4 channels: 0 to 3)", Message(d));
    }

    [Fact]
    public void SRG007_TwoJobsOnOneLayer()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels("dense_1", 0)]
            [DeleteLayer({|SRG007:"dense_1"|})]
            public static partial class Plan { }
            """);
        Assert.Equal("Layer 'dense_1' already has a DeleteChannels job in surgery plan 'App.Plan'; one layer takes one job", Message(d));
    }

    [Fact]
    public void SRG008_DuplicateChannel_IsAWarningAndTheChannelIsDeletedOnce()
    {
        var run = Run("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels("dense_1", 2, 5, {|SRG008:2|})]
            public static partial class Plan { }
            """, out var diagnostics);
        var d = Assert.Single(diagnostics);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("Channel 2 is listed more than once for layer 'dense_1'; it is deleted once", Message(d));
        Assert.Contains("plan.DeleteChannels(Layers.Dense1, 2, 5);", run.Single());
    }

    [Fact]
    public void SRG009_EveryChannel()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [{|SRG009:DeleteChannels("dense_2", 3, 2, 1, 0)|}]
            public static partial class Plan { }
            """);
        Assert.Equal("DeleteChannels on layer 'dense_2' lists all of its 4 channels, which would remove the layer's output; delete the layer instead", Message(d));
    }

    [Fact]
    public void SRG010_LayerWithoutChannels()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels({|SRG010:"dropout_1"|}, 0)]
            public static partial class Plan { }
            """);
        Assert.Equal("Layer 'dropout_1' (Dropout) has no channels to delete: only Dense, Embedding, convolution and recurrent layers " +
            "(and Bidirectional or TimeDistributed wrappers of them) do", Message(d));
    }

    [Fact]
    public void SRG011_NoChannels()
    {
        var d = Single("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [{|SRG011:DeleteChannels("dense_1")|}]
            public static partial class Plan { }
            """);
        Assert.Equal("DeleteChannels on layer 'dense_1' lists no channels", Message(d));
    }

    [Fact]
    public void SRG012_RuntimeNotReferenced()
    {
        var (source, expected) = Markup.Parse("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            public static partial class {|SRG012:Plan|} { }
            """);
        var run = GeneratorHarness.Run(GeneratorHarness.CreateDriver(new[] { Dense3 }), GeneratorHarness.Compile(new[] { source }, withRuntime: false));
        var d = Assert.Single(Markup.AssertDiagnostics(run.GeneratorDiagnostics, expected, run.Input));
        Assert.Equal("Surgery plan 'App.Plan' needs a reference to Surgeon.Runtime, whose API the generated code calls", Message(d));
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void SRG013_JobOnAnotherDeclaration()
    {
        var run = Run("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels("dense_1", 0)]
            public static partial class Plan { }

            [{|SRG013:DeleteLayer("dropout_1")|}]
            public static partial class Plan { }
            """, out var diagnostics);
        var d = Assert.Single(diagnostics);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.Equal("[DeleteLayer] on another declaration of surgery plan 'App.Plan' is ignored: put job attributes on the declaration that carries [SurgeryPlan]", Message(d));
        Assert.DoesNotContain("DeleteLayer", run.Single());
    }

    [Fact]
    public void RecordPlan_IsGeneratedLikeAClass()
    {
        var run = Run("""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteLayer("dropout_1")]
            internal sealed partial record Plan;
            """, out var diagnostics);
        Assert.Empty(diagnostics);
        Assert.Contains("partial record Plan", run.Single());
        Assert.Empty(run.OutputProblems());
    }

    [Theory]
    [InlineData("SRG005", "[DeleteChannels(\"dense_9\", 1)]")]
    [InlineData("SRG008", "[DeleteChannels(\"dense_1\", 2, 2)]")]
    [InlineData("SRG009", "[DeleteChannels(\"dense_2\", 0, 1, 2, 3)]")]
    public void Diagnostics_CanBeSuppressedWithPragma(string id, string job)
    {
        var source = $$"""
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            #pragma warning disable {{id}}
            {{job}}
            #pragma warning restore {{id}}
            public static partial class Plan { }
            """;
        var unsuppressed = GeneratorHarness.Run(source.Replace($"#pragma warning disable {id}", ""), Dense3);
        Assert.Contains(unsuppressed.GeneratorDiagnostics, d => d.Id == id);

        var run = GeneratorHarness.Run(source, Dense3);
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == id && !d.IsSuppressed);
    }

    private static Diagnostic Single([StringSyntax("C#")] string marked, params ModelFile[] models)
    {
        Run(marked, out var diagnostics, models);
        return Assert.Single(diagnostics);
    }

    private static GeneratorRun Run([StringSyntax("C#")] string marked, out List<Diagnostic> diagnostics, params ModelFile[] models)
    {
        var (source, expected) = Markup.Parse(marked);
        var run = GeneratorHarness.Run(source, models.Length == 0 ? new[] { Dense3 } : models);
        diagnostics = Markup.AssertDiagnostics(run.GeneratorDiagnostics, expected, run.Input);
        return run;
    }

    private static string Message(Diagnostic d) => d.GetMessage(CultureInfo.InvariantCulture);
}
