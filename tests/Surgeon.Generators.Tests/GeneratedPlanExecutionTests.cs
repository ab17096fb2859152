using System.Reflection;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>
/// Compiles a generated plan, loads it, and runs it on the real model it was compiled against: the declared jobs, the
/// typed Configure hook and the fingerprint check all take effect through Surgeon.Runtime.
/// </summary>
public sealed class GeneratedPlanExecutionTests
{
    private const string ToyResNet = "kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json";
    private const string ToyResNetWeights = "kotlindl/examples/src/main/resources/models/toyresnet/weights.h5";

    private const string Plan = """
        using System.Linq;
        using Surgeon;

        namespace App;

        /// <summary>Prunes the KotlinDL toy ResNet.</summary>
        [SurgeryPlan("models/toyresnet.json")]
        [DeleteChannels("conv2d_34", 0, 5, 7)]
        [DeleteChannels("dense_6", 3)]
        public static partial class ToyResNetPlan
        {
            // Channels chosen at run time: the last filter of conv2d_38, whatever its count in the loaded model.
            static partial void Configure(PlanBuilder plan) =>
                plan.DeleteChannels(Layers.Conv2d38, Enumerable.Range(Layers.Conv2d38.ChannelCount - 1, 1));
        }
        """;

    [SkippableFact]
    public void GeneratedRun_PerformsTheDeclaredAndConfiguredJobs()
    {
        using var model = KerasFile.Load(Fixtures.Real(ToyResNet), new LoadOptions { WeightsPath = Fixtures.Real(ToyResNetWeights) });
        var plan = CompilePlan();

        using var result = Run(plan, model);

        Assert.Equal(29, LayerChannels.Count(result.Model["conv2d_34"]));
        Assert.Equal(255, LayerChannels.Count(result.Model["dense_6"]));
        Assert.Equal(63, LayerChannels.Count(result.Model["conv2d_38"]));
        Assert.Equal(new[] { 63 }, result.DeletedChannels["conv2d_38"]);
        Assert.True(result.MaxDifference(model) <= 1e-4, "the pruned model must equal the original with those channels zeroed");
        Assert.Equal(plan.GetField("Fingerprint")!.GetValue(null), model.ArchitectureFingerprint);
    }

    [SkippableFact]
    public void GeneratedRun_RefusesAnotherArchitecture_NamingPlanModelAndFingerprints()
    {
        var plan = CompilePlan();
        var pruned = TestArchitectures.LeNet;
        using var other = KerasFile.CreateFromArchitecture(pruned, seed: 1);

        var e = Assert.Throws<PlanMismatchException>(() => Run(plan, other).Dispose());

        var expected = (string)plan.GetField("Fingerprint")!.GetValue(null)!;
        Assert.Equal(expected, e.ExpectedFingerprint);
        Assert.Equal(other.ArchitectureFingerprint, e.ActualFingerprint);
        Assert.True(e.Message.StartsWith($"Surgery plan 'App.ToyResNetPlan' was compiled against an architecture with fingerprint {expected}, but model 'lenet' has fingerprint {other.ArchitectureFingerprint}.", StringComparison.Ordinal), e.Message);
        Assert.Contains("layer 'img' (InputLayer) is missing", e.Message);
        Assert.Contains("; and 16 more.", e.Message);
    }

    [SkippableFact]
    public void GeneratedRun_RefusesAPrunedCopyOfTheModel()
    {
        using var model = KerasFile.Load(Fixtures.Real(ToyResNet), new LoadOptions { WeightsPath = Fixtures.Real(ToyResNetWeights) });
        using var pruned = Surgery.DeleteChannels(model, "conv2d_35", new[] { 0 });
        var plan = CompilePlan();

        var e = Assert.Throws<PlanMismatchException>(() => Run(plan, pruned).Dispose());

        Assert.Contains("layer 'conv2d_35' has 63 channels, not 64", e.Message);
    }

    [SkippableFact]
    public void GeneratedRun_TopologyMatch_AppliesToAPrunedCopy_ButNotToAnotherTopology()
    {
        using var model = KerasFile.Load(Fixtures.Real(ToyResNet), new LoadOptions { WeightsPath = Fixtures.Real(ToyResNetWeights) });
        using var pruned = Surgery.DeleteChannels(model, "conv2d_35", new[] { 0 });
        using var other = Surgery.DeleteLayer(model, "conv2d_39");
        var plan = CompilePlan();

        using var result = Run(plan, pruned, PlanMatch.Topology);
        var e = Assert.Throws<PlanMismatchException>(() => Run(plan, other, PlanMatch.Topology).Dispose());

        Assert.Equal(ArchitectureFingerprint.Topology(model), ArchitectureFingerprint.Topology(pruned));
        Assert.Equal((string)plan.GetField("TopologyFingerprint")!.GetValue(null)!, ArchitectureFingerprint.Topology(model));
        Assert.NotEmpty(result.DeletedChannels);
        Assert.Contains("layer 'conv2d_39' (Conv2D) is missing", e.Message);
        Assert.DoesNotContain("channels, not", e.Message);
    }

    private static SurgeryResult Run(Type plan, KerasModel model, PlanMatch match = PlanMatch.Exact)
    {
        try
        {
            return (SurgeryResult)plan.GetMethod("Run")!.Invoke(null, new object[] { model, CouplingPolicy.DeleteFromGroup, match })!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    private static Type CompilePlan()
    {
        var json = File.ReadAllText(Fixtures.Real(ToyResNet));
        var run = GeneratorHarness.Run(Plan, new ModelFile("/proj/models/toyresnet.json", json));
        Assert.Empty(run.OutputProblems());
        using var stream = new MemoryStream();
        var emitted = run.Output.Emit(stream);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        return Assembly.Load(stream.ToArray()).GetType("App.ToyResNetPlan")!;
    }
}
