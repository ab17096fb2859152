using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Identify;

/// <summary>
/// Choosing what to prune: APoZ (keras-surgeon's definition and high_apoz, with its gaps fixed), filter norms,
/// BatchNormalization scale, first-order Taylor, and per-layer and global selection.
/// </summary>
public sealed class IdentifyTests
{
    private static void Set(KerasModel model, string layer, string weight, Tensor value)
    {
        using var _ = no_grad();
        model[layer].FindWeight(weight)!.Value.copy_(value);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Apoz_CountsExactZerosAfterTheActivation_AsTheReferenceToyExample(int batchSize)
    {
        // keras-surgeon's toy check: activations [[0,1],[0,0],[2,0],[0,3]] give APoZ [0.75, 0.5].
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 2 }, ("Dense", new JsonObject { ["units"] = 2, ["activation"] = "relu" })), seed: 1);
        Set(model, "l0", "kernel", eye(2));
        Set(model, "l0", "bias", zeros(2));
        using var x = tensor(new float[] { 0, 1, 0, 0, 2, 0, 0, 3 }).reshape(4, 2);
        var progress = new List<DataProgress>();

        var apoz = Apoz.Compute(model, "l0", x, batchSize, new SyncProgress<DataProgress>(progress.Add));

        Assert.Equal(new[] { 0.75, 0.5 }, apoz);
        Assert.Equal(4 / batchSize, progress.Count);
        Assert.Equal(4, progress[^1].Samples);
    }

    [Fact]
    public void Apoz_ReluLayerAfterBatchNorm_IsTheActivation_AndChannelsFirstUsesTheLayersAxis()
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 2, 6, 6 },
            ("Conv2D", new JsonObject { ["filters"] = 3, ["kernel_size"] = 3, ["data_format"] = "channels_first" }),
            ("BatchNormalization", new JsonObject { ["axis"] = 1 }),
            ("ReLU", new JsonObject()),
            ("Flatten", new JsonObject()),
            ("Dense", new JsonObject { ["units"] = 2 })), seed: 2);
        ReferenceModels.Randomize(model, 3);
        using var x = rand(new long[] { 5, 2, 6, 6 }, generator: new Generator(4)) * 2 - 1;

        var apoz = Apoz.Compute(model, "l0", x, 2);

        Assert.Equal("l2", Apoz.FindActivationLayer(model, "l0"));
        // Reference: the ReLU's output, zeros counted per channel (axis 1) over samples and positions.
        using var runner = ModelRunner.Create(model);
        using var result = runner.Forward(new[] { x }, new[] { "l2" });
        var a = result.LayerOutputs["l2"][0];
        var expected = Enumerable.Range(0, 3).Select(c => a.select(1, c).eq(0).to_type(ScalarType.Float64).mean().item<double>()).ToArray();
        for (var c = 0; c < 3; c++) Assert.Equal(expected[c], apoz[c], 12);
        Assert.Contains(apoz, v => v > 0 && v < 1);
    }

    [Fact]
    public void Apoz_WalkThatBranchesOrCrossesADense_IsAnErrorNamingTheLayers()
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 4 },
            ("Dense", new JsonObject { ["units"] = 3 }),
            ("Dense", new JsonObject { ["units"] = 2, ["activation"] = "relu" })), seed: 5);

        var e = Assert.Throws<SurgeonException>(() => Apoz.FindActivationLayer(model, "l0"));

        Assert.Contains("'l1' (Dense)", e.Message);
    }

    [Theory]
    [InlineData(ApozMethod.Std, new[] { 0.1, 0.2, 0.9, 0.3 }, new[] { 2 })]
    [InlineData(ApozMethod.Absolute, new[] { 0.1, 0.995, 0.99, 1.0 }, new[] { 1, 2, 3 })]
    [InlineData(ApozMethod.Both, new[] { 0.1, 0.2, 0.9, 0.3 }, new[] { 2 })]
    [InlineData(ApozMethod.Std, new[] { 0.5, 0.5, 0.5 }, new int[0])]    // keras-surgeon selected all three
    [InlineData(ApozMethod.Std, new[] { 1.0, 1.0 }, new[] { 0, 1 })]      // always zero: really dead
    public void HighApoz_MatchesKerasSurgeonExceptTheEqualValuesBug(ApozMethod method, double[] apoz, int[] expected)
    {
        Assert.Equal(expected, Apoz.HighApoz(apoz, method));
    }

    [Fact]
    public void Norms_AndBatchNormScale_RankOutputChannels()
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 2 },
            ("Dense", new JsonObject { ["units"] = 3 }),
            ("BatchNormalization", new JsonObject()),
            ("LSTM", new JsonObject { ["units"] = 2 })), seed: 6);
        Set(model, "l0", "kernel", tensor(new float[] { 1, -2, 0, 3, 0, -4 }).reshape(2, 3));
        Set(model, "l1", "gamma", tensor(new float[] { 0.5f, -2, 1 }));

        Assert.Equal(new[] { 4.0, 2, 4 }, ChannelImportance.L1Norm(model, "l0"));
        Assert.Equal(new[] { Math.Round(Math.Sqrt(10), 12), 2, 4 }, ChannelImportance.L2Norm(model, "l0").Select(v => Math.Round(v, 12)));
        Assert.Equal(new[] { 0.5, 2, 1 }, ChannelImportance.BatchNormScale(model, "l0"));
        // LSTM: unit u's weights are column u of each of the four gate blocks.
        var kernel = model["l2"].FindWeight("kernel")!.Value;
        var expectedUnit1 = Enumerable.Range(0, 4).Sum(g => kernel[.., g * 2 + 1].abs().sum().item<float>());
        Assert.Equal(expectedUnit1, ChannelImportance.L1Norm(model, "l2")[1], 4);
        Assert.Throws<SurgeonException>(() => ChannelImportance.L1Norm(model, "l1"));
    }

    [Fact]
    public void Taylor_EqualsTheFiniteDifferenceOfScalingEachChannel()
    {
        // Dense(4, relu) -> Dense(3, softmax). Scaling channel c's kernel column and bias by s scales relu's output c by s
        // (s > 0): dL/ds at s = 1 is the gate gradient; with one-sample batches Taylor averages its absolute value.
        var json = TestModels.Sequential(new long[] { 5 }, ("Dense", new JsonObject { ["units"] = 4, ["activation"] = "relu" }), ("Dense", new JsonObject { ["units"] = 3, ["activation"] = "softmax" }));
        using var model = KerasFile.CreateFromArchitecture(json, seed: 7);
        ReferenceModels.Randomize(model, 8);
        using var x = rand(new long[] { 3, 5 }, generator: new Generator(9)) * 2 - 1;
        using var y = tensor(new long[] { 0, 2, 1 });
        var batches = Enumerable.Range(0, 3).Select(i => ((IReadOnlyList<Tensor>)new[] { x.narrow(0, i, 1) }, y.narrow(0, i, 1))).ToList();

        var taylor = ChannelImportance.Taylor(model, new[] { "l0" }, batches, (o, t) => ChannelImportance.SparseCategoricalCrossEntropy(o, t))["l0"];

        const double eps = 1e-3;
        for (var c = 0; c < 4; c++)
        {
            var expected = 0.0;
            for (var i = 0; i < 3; i++)
            {
                double Loss(double s)
                {
                    using var copy = KerasFile.CreateFromArchitecture(json, seed: 7);
                    ReferenceModels.Randomize(copy, 8);
                    using (no_grad())
                    {
                        copy["l0"].FindWeight("kernel")!.Value[.., c].mul_(s);
                        copy["l0"].FindWeight("bias")!.Value[c].mul_(s);
                    }
                    using var runner = ModelRunner.Create(copy);
                    using var p = runner.Predict(x.narrow(0, i, 1).to_type(ScalarType.Float64).to_type(ScalarType.Float32));
                    using var loss = ChannelImportance.SparseCategoricalCrossEntropy(new[] { p }, y.narrow(0, i, 1));
                    return loss.item<float>();
                }
                expected += Math.Abs((Loss(1 + eps) - Loss(1 - eps)) / (2 * eps));
            }
            Assert.Equal(expected / 3, taylor[c], 2);
        }
    }

    [Fact]
    public void PerLayer_RatioThresholdAndRounding()
    {
        var importance = new[] { 0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4 };

        Assert.Equal(new[] { 1, 5 }, ChannelSelection.PerLayer(importance, ratio: 0.25));
        Assert.Equal(new[] { 1, 3, 5 }, ChannelSelection.PerLayer(importance, threshold: 0.35));
        // 3 wanted would keep 5, not a multiple of 4: the count kept rounds up to 8 (nothing deleted); 4 wanted keeps 4.
        Assert.Equal(Array.Empty<int>(), ChannelSelection.PerLayer(importance, ratio: 0.375, roundTo: 4));
        Assert.Equal(new[] { 1, 3, 5, 7 }, ChannelSelection.PerLayer(importance, ratio: 0.5, roundTo: 4));
        Assert.Single(ChannelSelection.PerLayer(new[] { 1.0, 2.0 }, ratio: 1.0)); // never every channel
    }

    private const string Residual = """
        {"class_name": "Functional", "config": {"name": "res", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 8, 8, 3], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Conv2D", "name": "stem", "config": {"name": "stem", "filters": 8, "kernel_size": 3, "padding": "same"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Conv2D", "name": "a", "config": {"name": "a", "filters": 16, "kernel_size": 3, "padding": "same", "activation": "relu"}, "inbound_nodes": [[["stem", 0, 0, {}]]]},
          {"class_name": "Conv2D", "name": "b", "config": {"name": "b", "filters": 8, "kernel_size": 3, "padding": "same"}, "inbound_nodes": [[["a", 0, 0, {}]]]},
          {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["stem", 0, 0, {}], ["b", 0, 0, {}]]]},
          {"class_name": "GlobalAveragePooling2D", "name": "gap", "config": {"name": "gap"}, "inbound_nodes": [[["add", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 4}, "inbound_nodes": [[["gap", 0, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}
        """;

    [Fact]
    public void Global_RanksCoupledGroupsTogether_AndRoundsCounts()
    {
        using var model = KerasFile.CreateFromArchitecture(Residual, seed: 10);
        var importance = new[] { "stem", "a", "b", "out" }.ToDictionary(l => l, l => ChannelImportance.L1Norm(model, l));

        var selection = ChannelSelection.Global(model, importance, new GlobalSelectionOptions { Ratio = 0.5, RoundTo = 4 });

        Assert.Equal(selection["stem"], selection["b"]);                 // one coupled group, one deletion
        Assert.False(selection.ContainsKey("out"));                      // a model output is never pruned
        Assert.All(selection, s => Assert.Equal(0, (ChannelDeletion.ChannelCount(model[s.Key])!.Value - s.Value.Length) % 4));
        using var result = ChannelSelection.AddTo(new ModelSurgeon(model), selection).Operate();
        Assert.Empty(result.CoupledLayers);                               // both members were listed
        Assert.True(result.MaxDifference(model) <= 1e-5);
    }

    [Theory]
    [InlineData(CostKind.Parameters, 0.4)]
    [InlineData(CostKind.Macs, 0.3)]
    public void Global_Target_IsReachedWithTheFewestChannels(CostKind kind, double target)
    {
        using var model = KerasFile.CreateFromArchitecture(Residual, seed: 11);
        var importance = new[] { "stem", "a", "b" }.ToDictionary(l => l, l => ChannelImportance.L2Norm(model, l));
        long Cost(KerasModel m) => kind == CostKind.Parameters ? ModelCost.Of(m).Parameters : ModelCost.Of(m).Macs!.Value;

        var selection = ChannelSelection.Global(model, importance, new GlobalSelectionOptions { TargetReduction = target, TargetKind = kind });

        using var result = ChannelSelection.AddTo(new ModelSurgeon(model), selection).Operate();
        var reached = 1 - (double)Cost(result.Model) / Cost(model);
        Assert.True(reached >= target, $"reached {reached}");
        // Not trivially everything: well short of the 90% cap on both units.
        Assert.True(selection.Sum(s => s.Value.Length) < 0.9 * (8 + 8 + 16));
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
