using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Surgeon.Generators.Architecture;
using Surgeon.Generators.Model;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>
/// The pipeline caches as designed (style-anchors section 8.4): a rerun on an equal compilation leaves every tracked
/// step Cached or Unchanged and no Roslyn object past the parse step; targeted edits re-run exactly what they should.
/// </summary>
public sealed class IncrementalityTests
{
    private const string PlanA = """
        using Surgeon;
        namespace App;
        [SurgeryPlan("models/dense3.json")]
        [DeleteChannels("dense_1", 0, 3)]
        public static partial class PlanA { }
        """;

    private const string PlanB = """
        using Surgeon;
        namespace App;
        [SurgeryPlan("models/lenet.json")]
        [DeleteChannels("conv2d_1", 1)]
        public static partial class PlanB { }
        """;

    /// <summary>Steps whose outputs are cached models: no Roslyn object may reach them.</summary>
    private static readonly string[] s_cleanSteps =
    {
        SurgeonStepNames.CompilationFacts, SurgeonStepNames.Architectures, SurgeonStepNames.ArchitectureSet, SurgeonStepNames.PlanSpecs,
    };

    private static readonly Type[] s_banned = { typeof(Compilation), typeof(ISymbol), typeof(SyntaxNode), typeof(SemanticModel), typeof(Location), typeof(SyntaxTree) };

    public static TheoryData<string> Inputs() => new() { "dense3", "lenet", "branch", "resnet50", "siamese" };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Rerun_OnAClone_IsCachedOrUnchanged_AndHoldsNoRoslynObjects(string name)
    {
        var (json, plan) = name switch
        {
            "dense3" => (TestArchitectures.Dense3, "[DeleteChannels(\"dense_1\", 1)] [DeleteLayer(\"dropout_1\")]"),
            "lenet" => (TestArchitectures.LeNet, "[DeleteChannels(\"conv2d_2\", 0, 15)] [DeleteChannels(\"dense_9\", 1)]"),
            "branch" => (TestArchitectures.Branch, "[DeleteChannels(\"a\", 2)]"),
            "resnet50" => (SyntheticArchitectures.ResNet50(), "[DeleteChannels(\"conv3_block1_0_conv\", 0)]"),
            _ => (SyntheticArchitectures.Siamese, "[DeleteChannels(\"aux\", 1)]"),
        };
        var source = $"using Surgeon;\nnamespace App;\n[SurgeryPlan(\"models/{name}.json\")]\n{plan}\npublic static partial class Plan {{ }}\n";
        var driver = GeneratorHarness.CreateDriver(new[] { new ModelFile($"/proj/models/{name}.json", json) });
        var compilation = GeneratorHarness.Compile(source);

        var first = GeneratorHarness.Run(driver, compilation);
        var second = GeneratorHarness.Run(first.Driver, (CSharpCompilation)compilation.Clone());

        var steps = typeof(SurgeonStepNames).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).ToList();
        var run1 = first.Result.Results[0].TrackedSteps;
        var run2 = second.Result.Results[0].TrackedSteps;
        foreach (var step in steps)
        {
            Assert.True(run2.ContainsKey(step), $"step {step} was not tracked");
            var outputs1 = run1[step].SelectMany(s => s.Outputs).Select(o => o.Value).ToList();
            var outputs2 = run2[step].SelectMany(s => s.Outputs).ToList();
            Assert.All(outputs2, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {o.Reason}"));
            if (s_cleanSteps.Contains(step))
            {
                Assert.Equal(outputs1, outputs2.Select(o => o.Value));
                foreach (var value in outputs1) AssertNoRoslynObjects(value, step);
            }
        }
        Assert.Equal(first.Sources, second.Sources);
    }

    [Fact]
    public void UnrelatedType_LeavesPlansCached()
    {
        var (driver, compilation) = TwoPlans();
        var run = GeneratorHarness.Run(driver, compilation);

        var next = GeneratorHarness.Run(run.Driver, compilation.AddSyntaxTrees(Tree("namespace App; public class Unrelated { public int X; }", "Unrelated.cs")));

        // ForAttributeWithMetadataName re-runs its transform on a new compilation; equal results are Unchanged.
        AssertReasons(next, SurgeonStepNames.PlanDeclarations, IncrementalStepRunReason.Unchanged, IncrementalStepRunReason.Unchanged);
        AssertReasons(next, SurgeonStepNames.BoundPlans, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Cached);
        AssertReasons(next, SurgeonStepNames.PlanSpecs, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Cached);
        AssertReasons(next, SurgeonStepNames.CompilationFacts, IncrementalStepRunReason.Unchanged);
    }

    [Fact]
    public void CommentAndWhitespaceEdit_ReparsesButRegeneratesNothing()
    {
        var (driver, compilation) = TwoPlans();
        var run = GeneratorHarness.Run(driver, compilation);
        var old = compilation.SyntaxTrees.First();

        var edited = compilation.ReplaceSyntaxTree(old, Tree("// a comment\n\n" + PlanA.Replace("public static", "public  static"), old.FilePath));
        var next = GeneratorHarness.Run(run.Driver, edited);

        // The declaration's locations moved (Modified); the bind result holds no location when there is no diagnostic,
        // so it is equal (Unchanged) and the spec is not recomputed.
        AssertReasons(next, SurgeonStepNames.PlanDeclarations, IncrementalStepRunReason.Modified, IncrementalStepRunReason.Unchanged);
        AssertReasons(next, SurgeonStepNames.BoundPlans, IncrementalStepRunReason.Unchanged, IncrementalStepRunReason.Cached);
        AssertReasons(next, SurgeonStepNames.PlanSpecs, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Cached);
        Assert.Equal(run.Sources, next.Sources);
    }

    [Fact]
    public void AttributeArgumentEdit_ModifiesTheSpec()
    {
        var (driver, compilation) = TwoPlans();
        var run = GeneratorHarness.Run(driver, compilation);
        var old = compilation.SyntaxTrees.First();

        var next = GeneratorHarness.Run(run.Driver, compilation.ReplaceSyntaxTree(old, Tree(PlanA.Replace("0, 3", "0, 4"), old.FilePath)));

        AssertReasons(next, SurgeonStepNames.PlanSpecs, IncrementalStepRunReason.Modified, IncrementalStepRunReason.Cached);
        Assert.Contains("plan.DeleteChannels(Layers.Dense1, 0, 4);", next.Sources["App.PlanA.Surgeon.g.cs"]);
    }

    [Fact]
    public void SecondPlan_IsNew_FirstStaysCached()
    {
        var files = Models();
        var driver = CSharpGeneratorDriver.Create(new[] { new SurgeonGenerator().AsSourceGenerator() }, files.Texts, GeneratorHarness.ParseOptions, files.Options,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        var compilation = GeneratorHarness.Compile(PlanA);
        var run = GeneratorHarness.Run(driver, compilation);

        var next = GeneratorHarness.Run(run.Driver, compilation.AddSyntaxTrees(Tree(PlanB, "/proj/PlanB.cs")));

        AssertReasons(next, SurgeonStepNames.PlanSpecs, IncrementalStepRunReason.Cached, IncrementalStepRunReason.New);
        Assert.Equal(2, next.Sources.Count);
    }

    [Fact]
    public void ChangedArchitecture_RegeneratesOnlyThePlanThatUsesIt()
    {
        var (driver, compilation, texts) = TwoPlansWithTexts();
        var run = GeneratorHarness.Run(driver, compilation);
        var lenet = texts.Single(t => t.Path.EndsWith("lenet.json", StringComparison.Ordinal));

        var changed = TestArchitectures.LeNet.Replace("\"filters\": 6", "\"filters\": 8");
        var next = GeneratorHarness.Run(run.Driver.ReplaceAdditionalText(lenet, new InMemoryAdditionalText(lenet.Path, changed)), compilation);

        AssertReasons(next, SurgeonStepNames.Architectures, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Modified);
        // Plan A is bound again (the catalog changed) to an equal result, so its spec is not even recomputed.
        AssertReasons(next, SurgeonStepNames.BoundPlans, IncrementalStepRunReason.Unchanged, IncrementalStepRunReason.Modified);
        AssertReasons(next, SurgeonStepNames.PlanSpecs, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Modified);
        Assert.Equal(run.Sources["App.PlanA.Surgeon.g.cs"], next.Sources["App.PlanA.Surgeon.g.cs"]);
        Assert.Contains("new global::Surgeon.ChannelLayerHandle(\"conv2d_1\", \"Conv2D\", 8)", next.Sources["App.PlanB.Surgeon.g.cs"]);
        Assert.NotEqual(run.Sources["App.PlanB.Surgeon.g.cs"], next.Sources["App.PlanB.Surgeon.g.cs"]);
    }

    [Fact]
    public void DiagnosticSpanChange_ModifiesDiagnosticsOnly()
    {
        const string withError = """
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/dense3.json")]
            [DeleteChannels("dense_1", 99)]
            public static partial class PlanA { }
            """;
        var files = Models();
        var driver = CSharpGeneratorDriver.Create(new[] { new SurgeonGenerator().AsSourceGenerator() }, files.Texts, GeneratorHarness.ParseOptions, files.Options,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        var compilation = GeneratorHarness.Compile(withError);
        var run = GeneratorHarness.Run(driver, compilation);
        var old = compilation.SyntaxTrees.First();

        var next = GeneratorHarness.Run(run.Driver, compilation.ReplaceSyntaxTree(old, Tree(withError.Replace("99)", " 99)"), old.FilePath)));

        AssertReasons(next, SurgeonStepNames.BoundPlans, IncrementalStepRunReason.Modified);
        AssertReasons(next, SurgeonStepNames.PlanDiagnostics, IncrementalStepRunReason.Modified);
        AssertReasons(next, SurgeonStepNames.PlanSpecs, IncrementalStepRunReason.Unchanged);
        Assert.NotEqual(run.GeneratorDiagnostics.Single().Location.SourceSpan, next.GeneratorDiagnostics.Single().Location.SourceSpan);
    }

    [Fact]
    public void ArchitectureSpec_HasValueEquality()
    {
        var a = ArchitectureParser.ParseSpec(TestArchitectures.LeNet, CancellationToken.None);
        var b = ArchitectureParser.ParseSpec(TestArchitectures.LeNet, CancellationToken.None);
        var c = ArchitectureParser.ParseSpec(TestArchitectures.LeNet.Replace("\"units\": 120", "\"units\": 100"), CancellationToken.None);

        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.NotEqual(a.Fingerprint, c.Fingerprint);
    }

    [Fact]
    public void EquatableArray_ComparesByElements()
    {
        var a = new[] { 1, 2, 3 }.ToEquatableArray();
        var b = new List<int> { 1, 2, 3 }.ToEquatableArray();

        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, new[] { 1, 2 }.ToEquatableArray());
        Assert.NotEqual(a, new[] { 3, 2, 1 }.ToEquatableArray());
        Assert.Equal(EquatableArray<int>.Empty, default(EquatableArray<int>));
        Assert.Empty(default(EquatableArray<int>));
    }

    private static void AssertReasons(GeneratorRun run, string step, params IncrementalStepRunReason[] expected)
    {
        var reasons = run.Result.Results[0].TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();
        Assert.True(expected.SequenceEqual(reasons), $"{step}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", reasons)}]");
    }

    private static SyntaxTree Tree(string source, string path) => CSharpSyntaxTree.ParseText(source, GeneratorHarness.ParseOptions, path);

    private static (List<InMemoryAdditionalText> Texts, TestOptionsProvider Options) Models()
    {
        var files = new[] { new ModelFile("/proj/models/dense3.json", TestArchitectures.Dense3), new ModelFile("/proj/models/lenet.json", TestArchitectures.LeNet) };
        return (files.Select(f => new InMemoryAdditionalText(f.Path, f.Text)).ToList(),
            GeneratorHarness.Options(files, new Dictionary<string, string> { ["build_property.ProjectDir"] = GeneratorHarness.ProjectDir }));
    }

    private static (GeneratorDriver, CSharpCompilation) TwoPlans()
    {
        var (driver, compilation, _) = TwoPlansWithTexts();
        return (driver, compilation);
    }

    private static (GeneratorDriver, CSharpCompilation, List<InMemoryAdditionalText>) TwoPlansWithTexts()
    {
        var files = Models();
        var driver = CSharpGeneratorDriver.Create(new[] { new SurgeonGenerator().AsSourceGenerator() }, files.Texts, GeneratorHarness.ParseOptions, files.Options,
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        return (driver, GeneratorHarness.Compile(PlanA, PlanB), files.Texts);
    }

    /// <summary>Walks an output's object graph and fails on any Roslyn object (house rule 3).</summary>
    private static void AssertNoRoslynObjects(object? value, string step)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(object? Value, string Path)>();
        pending.Push((value, step));
        while (pending.Count > 0)
        {
            var (current, path) = pending.Pop();
            if (current is null || current is string || current.GetType().IsPrimitive || current.GetType().IsEnum) continue;
            if (!current.GetType().IsValueType && !seen.Add(current)) continue;
            var type = current.GetType();
            Assert.False(s_banned.Any(b => b.IsAssignableFrom(type)), $"{path} holds a {type.Name}");
            Assert.False(type.IsArray || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableArray<>)), $"{path} holds an array ({type.Name}); use EquatableArray");
            if (current is IEnumerable items && type.IsGenericType && type.GetGenericTypeDefinition() == typeof(EquatableArray<>))
            {
                var i = 0;
                foreach (var item in items) pending.Push((item, $"{path}[{i++}]"));
                continue;
            }
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0))
                pending.Push((property.GetValue(current), path + "." + property.Name));
        }
    }
}
