using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Channel deletion: exact weight slicing (keras-surgeon's formulas), the TensorFlow.js oracle's pruned LeNet, and
/// numerical equivalence: the pruned model's output equals the original's with the deleted channels zeroed.
/// </summary>
public sealed class DeleteChannelsTests
{
    [SkippableFact]
    public void DeleteChannels_OracleLenet_MatchesOraclePrunedModelExactly()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var original = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
        using var expected = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet_pruned"));

        // surgery.json of the oracle: conv1 {1,4}, conv2 {0,7,15}, dense1 {3,50}.
        using var result = new ModelSurgeon(original)
            .DeleteChannels("conv2d_Conv2D1", new[] { 1, 4 })
            .DeleteChannels("conv2d_Conv2D2", new[] { 0, 7, 15 })
            .DeleteChannels("dense_Dense1", new[] { 3, 50 })
            .Operate();

        foreach (var (layer, weight) in expected.AllWeights())
        {
            var actual = result.Model[layer.Name].FindWeight(weight.Name)!.Value;
            Assert.Equal(weight.Shape, actual.shape);
            Assert.True(actual.eq(weight.Value).all().item<bool>(), $"{layer.Name}/{weight.Name} differs from the oracle's pruned weights");
        }
        Assert.Equal(4, result.Model["conv2d_Conv2D1"].Config.GetProperty("filters").GetInt32());
        Assert.Equal(118, result.Model["dense_Dense1"].Config.GetProperty("units").GetInt32());
        using var runner = ModelRunner.Create(result.Model);
        using var input = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet_pruned", "input.npy"));
        using var output = runner.Predict(input);
        using var recorded = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet_pruned", "output.npy"));
        RecordedOutputTests.AssertClose(recorded, output, "pruned LeNet");
        // The input model is untouched.
        Assert.Equal(6, original["conv2d_Conv2D1"].Config.GetProperty("filters").GetInt32());
    }

    [SkippableTheory]
    [InlineData("pruned.h5")]
    [InlineData("pruned.keras")]
    public void DeleteChannels_SaveAndReload_KeepsPrunedShapesAndOutputs(string name)
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var original = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
        using var result = new ModelSurgeon(original).DeleteChannels("conv2d_Conv2D2", new[] { 0, 7, 15 }).Operate();
        using var dir = new TempDir();

        KerasFile.Save(result.Model, dir.File(name));
        using var reloaded = KerasFile.Load(dir.File(name));

        Assert.Equal(13, reloaded["conv2d_Conv2D2"].Config.GetProperty("filters").GetInt32());
        Assert.Equal(new long[] { 208, 120 }, reloaded["dense_Dense1"].FindWeight("kernel")!.Shape);
        using var input = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet", "input.npy"));
        using var a = ModelRunner.Create(result.Model);
        using var b = ModelRunner.Create(reloaded);
        using var ya = a.Predict(input);
        using var yb = b.Predict(input);
        RecordedOutputTests.AssertClose(ya, yb, name);
    }

    [Fact]
    public void DeleteChannels_Keras3Model_UpdatesBuildConfigAndLeavesInputUntouched()
    {
        const string json = """
            {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
              {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "in"}, "registered_name": null},
              {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d1", "units": 5}, "registered_name": null, "build_config": {"input_shape": [null, 4]}},
              {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d2", "units": 2}, "registered_name": null, "build_config": {"input_shape": [null, 5]}}]},
             "registered_name": null}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 3);

        using var result = new ModelSurgeon(model).DeleteChannels("d1", new[] { 0, 2 }).Operate();

        var build = result.Model["d2"].Entry["build_config"]!["input_shape"]!.ToJsonString();
        Assert.Equal("[null,3]", build);
        Assert.Equal("[null,5]", model["d2"].Entry["build_config"]!["input_shape"]!.ToJsonString());
        Assert.Equal(5, model["d1"].Config.GetProperty("units").GetInt32());
    }

    [Fact]
    public void DeleteChannels_DenseChain_SlicesColumnsAndRowsLikeKerasSurgeon()
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 4 }, ("Dense", new JsonObject { ["units"] = 5 }), ("Dense", new JsonObject { ["units"] = 3 })), seed: 1);

        using var result = new ModelSurgeon(model).DeleteChannels("l0", new[] { 1, 3 }).Operate();

        var keep = new long[] { 0, 2, 4 };
        using var index = tensor(keep);
        Assert.True(result.Model["l0"].FindWeight("kernel")!.Value.eq(model["l0"].FindWeight("kernel")!.Value.index_select(1, index)).all().item<bool>());
        Assert.True(result.Model["l0"].FindWeight("bias")!.Value.eq(model["l0"].FindWeight("bias")!.Value.index_select(0, index)).all().item<bool>());
        Assert.True(result.Model["l1"].FindWeight("kernel")!.Value.eq(model["l1"].FindWeight("kernel")!.Value.index_select(0, index)).all().item<bool>());
        Assert.Equal(new[] { "l0", "l1" }, result.ChangedLayers);
    }

    [Theory]
    [InlineData(new[] { 0, 1 })] // kept channels form one run: sliced as views, copied once at the end
    [InlineData(new[] { 3, 4 })]
    [InlineData(new[] { 1, 3 })] // gaps: gathered
    public void DeleteChannels_Result_IsExactContiguousAndSharesNoStorageWithTheInput(int[] channels)
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 4 }, ("Dense", new JsonObject { ["units"] = 5 }), ("Dense", new JsonObject { ["units"] = 5 }), ("Dense", new JsonObject { ["units"] = 3 })), seed: 1);
        using var before = model["l1"].FindWeight("kernel")!.Value.clone();

        using (var result = new ModelSurgeon(model).DeleteChannels("l0", channels).DeleteChannels("l1", channels).Operate())
        {
            var keep = Enumerable.Range(0, 5).Where(c => !channels.Contains(c)).Select(c => (long)c).ToArray();
            using var index = tensor(keep);
            var kernel = result.Model["l1"].FindWeight("kernel")!.Value;
            using var expected = before.index_select(0, index).index_select(1, index);
            Assert.True(kernel.eq(expected).all().item<bool>());
            foreach (var layer in result.Model.Layers)
                foreach (var w in layer.Weights)
                    Assert.True(w.Value.is_contiguous(), $"{layer.Name}/{w.Name} is not contiguous");

            // Writing into every result weight leaves the input model's weights as they were.
            foreach (var layer in result.Model.Layers)
                foreach (var w in layer.Weights)
                    w.Value.fill_(123f);
        }
        Assert.True(model["l1"].FindWeight("kernel")!.Value.eq(before).all().item<bool>());
        Assert.False(model["l0"].FindWeight("kernel")!.Value.eq(123f).any().item<bool>());
        Assert.False(model["l2"].FindWeight("kernel")!.Value.eq(123f).any().item<bool>());
    }

    // A BatchNormalization or a biased depthwise convolution turns a zeroed channel into a constant; the surgery folds
    // it into the consumer's bias, so these are exact too. (An RNN's units feed its own recurrence, so zeroing its
    // output is not what deleting them means: RNN targets are checked by their weight formulas instead.)
    public static TheoryData<string> EquivalenceCases() => new() { "conv-pool-flatten-dense", "conv-bn-pool-conv-flatten-dense", "channels-first", "concatenate", "depthwise", "depthwise-biased" };

    [Theory]
    [MemberData(nameof(EquivalenceCases))]
    public void DeleteChannels_Equivalence_PrunedEqualsMaskedOriginal(string name)
    {
        var (json, target, channels, inputShape) = name switch
        {
            "conv-pool-flatten-dense" => (TestModels.Sequential(new long[] { 8, 8, 2 },
                ("Conv2D", new JsonObject { ["filters"] = 6, ["kernel_size"] = 3, ["padding"] = "same", ["activation"] = "relu" }),
                ("Dropout", new JsonObject { ["rate"] = 0.3 }),
                ("MaxPooling2D", new JsonObject { ["pool_size"] = 2 }),
                ("Conv2D", new JsonObject { ["filters"] = 4, ["kernel_size"] = 3 }),
                ("Flatten", new JsonObject()),
                ("Dense", new JsonObject { ["units"] = 3 })), "l0", new[] { 0, 2, 5 }, new long[] { 8, 8, 2 }),
            "conv-bn-pool-conv-flatten-dense" => (TestModels.Sequential(new long[] { 8, 8, 2 },
                ("Conv2D", new JsonObject { ["filters"] = 6, ["kernel_size"] = 3, ["padding"] = "same", ["activation"] = "relu" }),
                ("BatchNormalization", new JsonObject()),
                ("Activation", new JsonObject { ["activation"] = "sigmoid" }),
                ("MaxPooling2D", new JsonObject { ["pool_size"] = 2 }),
                ("Conv2D", new JsonObject { ["filters"] = 4, ["kernel_size"] = 3 }),
                ("Flatten", new JsonObject()),
                ("Dense", new JsonObject { ["units"] = 3 })), "l0", new[] { 0, 2, 5 }, new long[] { 8, 8, 2 }),
            "depthwise-biased" => (TestModels.Sequential(new long[] { 7, 7, 1 },
                ("Conv2D", new JsonObject { ["filters"] = 4, ["kernel_size"] = 3 }),
                ("DepthwiseConv2D", new JsonObject { ["kernel_size"] = 3, ["depth_multiplier"] = 2 }),
                ("GlobalAveragePooling2D", new JsonObject()),
                ("Dense", new JsonObject { ["units"] = 2 })), "l0", new[] { 2 }, new long[] { 7, 7, 1 }),
            "channels-first" => (TestModels.Sequential(new long[] { 2, 6, 6 },
                ("Conv2D", new JsonObject { ["filters"] = 5, ["kernel_size"] = 3, ["data_format"] = "channels_first", ["activation"] = "tanh" }),
                ("Flatten", new JsonObject()),
                ("Dense", new JsonObject { ["units"] = 2 })), "l0", new[] { 1, 3 }, new long[] { 2, 6, 6 }),
            "concatenate" => (ConcatModel(), "a", new[] { 1 }, new long[] { 4 }),
            "depthwise" => (TestModels.Sequential(new long[] { 7, 7, 1 },
                ("Conv2D", new JsonObject { ["filters"] = 4, ["kernel_size"] = 3 }),
                ("DepthwiseConv2D", new JsonObject { ["kernel_size"] = 3, ["depth_multiplier"] = 2, ["use_bias"] = false }),
                ("GlobalAveragePooling2D", new JsonObject()),
                ("Dense", new JsonObject { ["units"] = 2 })), "l0", new[] { 2 }, new long[] { 7, 7, 1 }),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        using var model = KerasFile.CreateFromArchitecture(json, seed: 2);
        ReferenceModels.Randomize(model, 3);
        using var x = rand(new[] { 3L }.Concat(inputShape).ToArray(), generator: new Generator(4)) * 2 - 1;

        using var result = new ModelSurgeon(model).DeleteChannels(target, channels).Operate();
        Assert.Empty(result.InexactLayers);
        using var pruned = ModelRunner.Create(result.Model);
        using var masked = ModelRunner.Create(model, new RunOptions { ZeroedChannels = new Dictionary<string, int[]> { [target] = channels } });
        using var a = pruned.Predict(x);
        using var b = masked.Predict(x);

        RecordedOutputTests.AssertClose(b, a, name);
    }

    [Fact]
    public void MaxDifference_BatchNormConstantIsFoldedAndBorderEffectsAreReported()
    {
        JsonObject Conv() => new() { ["filters"] = 4, ["kernel_size"] = 3, ["activation"] = "relu" };
        using var plain = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 6, 6, 1 }, ("Conv2D", Conv()), ("Flatten", new JsonObject()), ("Dense", new JsonObject { ["units"] = 2 })), seed: 1);
        using var withBn = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 6, 6, 1 }, ("Conv2D", Conv()), ("BatchNormalization", new JsonObject()), ("Flatten", new JsonObject()), ("Dense", new JsonObject { ["units"] = 2 })), seed: 1);
        var same = Conv();
        same["padding"] = "same";
        using var border = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 6, 6, 1 }, ("Conv2D", Conv()), ("BatchNormalization", new JsonObject()), ("Conv2D", same), ("Flatten", new JsonObject()), ("Dense", new JsonObject { ["units"] = 2 })), seed: 1);
        ReferenceModels.Randomize(plain, 2);
        ReferenceModels.Randomize(withBn, 2);
        ReferenceModels.Randomize(border, 2);

        using var exact = new ModelSurgeon(plain).DeleteChannels("l0", new[] { 1 }).Operate();
        using var folded = new ModelSurgeon(withBn).DeleteChannels("l0", new[] { 1 }).Operate();
        using var bordered = new ModelSurgeon(border).DeleteChannels("l0", new[] { 1 }).Operate();

        Assert.True(exact.MaxDifference(plain) <= 1e-5);
        // BatchNormalization turns the zeroed channel into beta - mean * scale: folded into the Dense bias, still exact.
        Assert.True(folded.MaxDifference(withBn) <= 1e-5);
        Assert.Empty(folded.InexactLayers);
        // Into a 'same' convolution the constant meets zero padding at the borders: reported, and visible.
        Assert.Contains(bordered.InexactLayers, l => l.StartsWith("l2 (Conv2D)", StringComparison.Ordinal));
        Assert.True(bordered.MaxDifference(border) > 1e-5);
    }

    [Fact]
    public void DeleteChannels_LstmAndBatchNorm_SliceGateBlocksAndStatistics()
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 6, 3 },
            ("LSTM", new JsonObject { ["units"] = 5, ["return_sequences"] = true }),
            ("BatchNormalization", new JsonObject()),
            ("LSTM", new JsonObject { ["units"] = 3 })), seed: 8);
        ReferenceModels.Randomize(model, 9);

        using var result = new ModelSurgeon(model).DeleteChannels("l0", new[] { 1, 3 }).Operate();

        // keras-surgeon's worked example: u = 5, D = {1, 3} deletes LSTM kernel columns 1,3,6,8,11,13,16,18.
        var keptColumns = Enumerable.Range(0, 20).Where(c => !new[] { 1, 3, 6, 8, 11, 13, 16, 18 }.Contains(c)).Select(c => (long)c).ToArray();
        using var cols = tensor(keptColumns);
        using var rows = tensor(new long[] { 0, 2, 4 });
        var lstm = model["l0"];
        Assert.True(result.Model["l0"].FindWeight("kernel")!.Value.eq(lstm.FindWeight("kernel")!.Value.index_select(1, cols)).all().item<bool>());
        Assert.True(result.Model["l0"].FindWeight("recurrent_kernel")!.Value.eq(lstm.FindWeight("recurrent_kernel")!.Value.index_select(1, cols).index_select(0, rows)).all().item<bool>());
        Assert.True(result.Model["l0"].FindWeight("bias")!.Value.eq(lstm.FindWeight("bias")!.Value.index_select(0, cols)).all().item<bool>());
        foreach (var w in new[] { "gamma", "beta", "moving_mean", "moving_variance" })
            Assert.True(result.Model["l1"].FindWeight(w)!.Value.eq(model["l1"].FindWeight(w)!.Value.index_select(0, rows)).all().item<bool>(), w);
        Assert.True(result.Model["l2"].FindWeight("kernel")!.Value.eq(model["l2"].FindWeight("kernel")!.Value.index_select(0, rows)).all().item<bool>());
        Assert.Equal(3, result.Model["l0"].Config.GetProperty("units").GetInt32());
        using var runner = ModelRunner.Create(result.Model);
        using var x = rand(2, 6, 3);
        using var y = runner.Predict(x);
        Assert.Equal(new long[] { 2, 3 }, y.shape);
    }

    [Fact]
    public void DeleteChannels_ResidualAdd_DeletesFromTheCoupledGroup()
    {
        const string json = """
            {"class_name": "Functional", "config": {"name": "res", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 6, 6, 3], "name": "x"}, "inbound_nodes": []},
              {"class_name": "Conv2D", "name": "stem", "config": {"name": "stem", "filters": 4, "kernel_size": 3, "padding": "same"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Conv2D", "name": "branch", "config": {"name": "branch", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"}, "inbound_nodes": [[["stem", 0, 0, {}]]]},
              {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["stem", 0, 0, {}], ["branch", 0, 0, {}]]]},
              {"class_name": "GlobalAveragePooling2D", "name": "gap", "config": {"name": "gap"}, "inbound_nodes": [[["add", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["gap", 0, 0, {}]]]}],
              "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 5);
        ReferenceModels.Randomize(model, 6);
        using var x = rand(new long[] { 2, 6, 6, 3 }, generator: new Generator(7));

        using var result = new ModelSurgeon(model).DeleteChannels("branch", new[] { 1, 2 }).Operate();

        Assert.Equal(new[] { "stem" }, result.CoupledLayers);
        Assert.Equal(new[] { 1, 2 }, result.DeletedChannels["stem"]);
        using var pruned = ModelRunner.Create(result.Model);
        using var masked = ModelRunner.Create(model, new RunOptions { ZeroedChannels = new Dictionary<string, int[]> { ["stem"] = new[] { 1, 2 }, ["branch"] = new[] { 1, 2 } } });
        using var a = pruned.Predict(x);
        using var b = masked.Predict(x);
        RecordedOutputTests.AssertClose(b, a, "residual group");
        var refuse = new ModelSurgeon(model) { Coupling = CouplingPolicy.Refuse }.DeleteChannels("branch", new[] { 1 });
        var e = Assert.Throws<SurgeonException>(() => refuse.Operate());
        Assert.Contains("'add'", e.Message);
        Assert.Contains("stem", e.Message);
    }

    [Theory]
    [InlineData("nope", new[] { 0 }, "no layer named 'nope'")]
    [InlineData("l0", new[] { 5 }, "out of range; the layer has 5 channels")]
    [InlineData("l0", new[] { 1, 1 }, "given more than once")]
    [InlineData("l0", new[] { 0, 1, 2, 3, 4 }, "would remove model output 'l1'")]
    [InlineData("l1", new[] { 0 }, "has no channels")]
    public void DeleteChannels_InvalidJob_FailsWhenAdded(string layer, int[] channels, string message)
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 4 }, ("Dense", new JsonObject { ["units"] = 5 }), ("Dropout", new JsonObject { ["rate"] = 0.5 })), seed: 1);

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels(layer, channels));

        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void DeleteChannels_BeforeEmbeddingLikeUnsupportedLayer_NamesIt()
    {
        using var model = KerasFile.CreateFromArchitecture(TestModels.Sequential(new long[] { 4 }, ("Dense", new JsonObject { ["units"] = 4 }), ("Softmax", new JsonObject { ["axis"] = -1 })), seed: 1);

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("l0", new[] { 1 }).Operate());

        Assert.Contains("'l1' (Softmax)", e.Message);
    }

    private static string ConcatModel() => """
        {"class_name": "Functional", "config": {"name": "cat", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 3}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 2}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Concatenate", "name": "c", "config": {"name": "c", "axis": -1}, "inbound_nodes": [[["b", 0, 0, {}], ["a", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["c", 0, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}
        """;
}
