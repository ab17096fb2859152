using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Targets keras-surgeon could not prune (its generic path sliced the wrong axes or refused them): Embedding
/// (output_dim), ConvLSTM2D (four gate blocks of filters), Bidirectional (units of both directions, deleted from both
/// halves of a concatenated output) and TimeDistributed; and the same layers as consumers of a deletion.
/// </summary>
public sealed class WrappedAndSequenceTargetTests
{
    private static JsonObject Wrap(string cls, JsonObject config) => new() { ["layer"] = new JsonObject { ["class_name"] = cls, ["config"] = config } };

    private static KerasModel Create(string json)
    {
        var model = KerasFile.CreateFromArchitecture(json, seed: 11);
        ReferenceModels.Randomize(model, 12);
        return model;
    }

    private static Tensor W(KerasModel m, string layer, string weight) => m[layer].FindWeight(weight)!.Value;

    private static void AssertEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.eq(actual).all().item<bool>(), what);
    }

    private static long[] GateColumns(int gates, int units, int[] deleted) =>
        Enumerable.Range(0, gates * units).Where(c => !deleted.Contains(c % units)).Select(c => (long)c).ToArray();

    [Fact]
    public void Embedding_LosesOutputDimColumns_AndStaysExact()
    {
        using var model = Create(TestModels.Sequential(new long[] { 5 },
            ("Embedding", new JsonObject { ["input_dim"] = 10, ["output_dim"] = 6, ["input_length"] = 5 }),
            ("Flatten", new JsonObject()),
            ("Dense", new JsonObject { ["units"] = 2 })));

        using var result = new ModelSurgeon(model).DeleteChannels("l0", new[] { 1, 4 }).Operate();

        using var cols = tensor(new long[] { 0, 2, 3, 5 });
        AssertEqual(W(model, "l0", "embeddings").index_select(1, cols), W(result.Model, "l0", "embeddings"), "embeddings");
        Assert.Equal(4, result.Model["l0"].Config.GetProperty("output_dim").GetInt32());
        Assert.Equal(new long[] { 20, 2 }, W(result.Model, "l2", "kernel").shape);
        // Embedding inputs are indices: a random float input would not do, so compare on real token ids.
        using var x = randint(0, 10, new long[] { 3, 5 }).to_type(ScalarType.Float32);
        using var pruned = ModelRunner.Create(result.Model);
        using var masked = ModelRunner.Create(model, new RunOptions { ZeroedChannels = new Dictionary<string, int[]> { ["l0"] = new[] { 1, 4 } } });
        using var a = pruned.Predict(x);
        using var b = masked.Predict(x);
        RecordedOutputTests.AssertClose(b, a, "embedding");
    }

    [Fact]
    public void ConvLstm2D_SlicesGateBlocksAndRecurrentInputs_AndConsumesATimeDistributedConv()
    {
        using var model = Create(TestModels.Sequential(new long[] { 3, 7, 7, 2 },
            ("TimeDistributed", Wrap("Conv2D", new JsonObject { ["filters"] = 4, ["kernel_size"] = 3, ["activation"] = "relu" })),
            ("ConvLSTM2D", new JsonObject { ["filters"] = 3, ["kernel_size"] = 3, ["return_sequences"] = false }),
            ("Flatten", new JsonObject()),
            ("Dense", new JsonObject { ["units"] = 2 })));

        using var first = new ModelSurgeon(model).DeleteChannels("l0", new[] { 2 }).Operate();
        using var second = new ModelSurgeon(model).DeleteChannels("l1", new[] { 1 }).Operate();

        // TimeDistributed(Conv2D) target: its filters go, the ConvLSTM2D drops the kernel's input rows; exact.
        Assert.Equal(new long[] { 3, 3, 2, 3 }, W(first.Model, "l0", "kernel").shape);
        using var rows = tensor(new long[] { 0, 1, 3 });
        AssertEqual(W(model, "l1", "kernel").index_select(2, rows), W(first.Model, "l1", "kernel"), "ConvLSTM2D input rows");
        Assert.Equal(3, first.Model["l0"].Config.GetProperty("layer").GetProperty("config").GetProperty("filters").GetInt32());
        Assert.Empty(first.InexactLayers);
        Assert.True(first.MaxDifference(model) <= 1e-5);

        // ConvLSTM2D target: four gate blocks on the last axis, and the recurrent kernel's input channels.
        using var cols = tensor(GateColumns(4, 3, new[] { 1 }));
        using var kept = tensor(new long[] { 0, 2 });
        AssertEqual(W(model, "l1", "kernel").index_select(3, cols), W(second.Model, "l1", "kernel"), "kernel");
        AssertEqual(W(model, "l1", "recurrent_kernel").index_select(3, cols).index_select(2, kept), W(second.Model, "l1", "recurrent_kernel"), "recurrent kernel");
        AssertEqual(W(model, "l1", "bias").index_select(0, cols), W(second.Model, "l1", "bias"), "bias");
        Assert.Equal(2, second.Model["l1"].Config.GetProperty("filters").GetInt32());
        using var runner = ModelRunner.Create(second.Model);
        using var x = rand(new long[] { 2, 3, 7, 7, 2 });
        using var y = runner.Predict(x);
        Assert.Equal(new long[] { 2, 2 }, y.shape);
    }

    [Theory]
    [InlineData("concat")]
    [InlineData("sum")]
    public void Bidirectional_DeletesUnitsFromBothDirections(string mergeMode)
    {
        var lstm = new JsonObject { ["units"] = 4, ["return_sequences"] = true };
        var wrapper = Wrap("LSTM", lstm);
        wrapper["merge_mode"] = mergeMode;
        using var model = Create(TestModels.Sequential(new long[] { 5, 3 }, ("Bidirectional", wrapper), ("Dense", new JsonObject { ["units"] = 2 })));

        using var result = new ModelSurgeon(model).DeleteChannels("l0", new[] { 0, 2 }).Operate();

        using var cols = tensor(GateColumns(4, 4, new[] { 0, 2 }));
        using var kept = tensor(new long[] { 1, 3 });
        foreach (var side in new[] { "forward/", "backward/" })
        {
            AssertEqual(W(model, "l0", side + "kernel").index_select(1, cols), W(result.Model, "l0", side + "kernel"), side + "kernel");
            AssertEqual(W(model, "l0", side + "recurrent_kernel").index_select(1, cols).index_select(0, kept), W(result.Model, "l0", side + "recurrent_kernel"), side + "recurrent_kernel");
            AssertEqual(W(model, "l0", side + "bias").index_select(0, cols), W(result.Model, "l0", side + "bias"), side + "bias");
        }
        // The Dense after it loses the rows of both halves (concat: units 0 and 2 of each direction) or of the sum.
        using var denseRows = tensor(mergeMode == "concat" ? new long[] { 1, 3, 5, 7 } : new long[] { 1, 3 });
        AssertEqual(W(model, "l1", "kernel").index_select(0, denseRows), W(result.Model, "l1", "kernel"), "dense rows");
        Assert.Equal(2, result.Model["l0"].Config.GetProperty("layer").GetProperty("config").GetProperty("units").GetInt32());
        using var runner = ModelRunner.Create(result.Model);
        using var x = rand(2, 5, 3);
        using var y = runner.Predict(x);
        Assert.Equal(new long[] { 2, 5, 2 }, y.shape);
    }

    [Fact]
    public void BidirectionalAndTimeDistributed_AsConsumers_StayExact()
    {
        var gru = new JsonObject { ["units"] = 3, ["return_sequences"] = true };
        using var model = Create(TestModels.Sequential(new long[] { 4, 3 },
            ("TimeDistributed", Wrap("Dense", new JsonObject { ["units"] = 5, ["activation"] = "tanh" })),
            ("Bidirectional", Wrap("GRU", gru)),
            ("TimeDistributed", Wrap("Dense", new JsonObject { ["units"] = 6 })),
            ("TimeDistributed", Wrap("Dense", new JsonObject { ["units"] = 2 }))));

        using var intoBidirectional = new ModelSurgeon(model).DeleteChannels("l0", new[] { 1, 3 }).Operate();
        using var intoTimeDistributed = new ModelSurgeon(model).DeleteChannels("l2", new[] { 0, 5 }).Operate();

        using var rows = tensor(new long[] { 0, 2, 4 });
        foreach (var side in new[] { "forward/", "backward/" })
            AssertEqual(W(model, "l1", side + "kernel").index_select(0, rows), W(intoBidirectional.Model, "l1", side + "kernel"), side + "kernel");
        Assert.True(intoBidirectional.MaxDifference(model) <= 1e-5);
        Assert.Equal(new long[] { 4, 2 }, W(intoTimeDistributed.Model, "l3", "kernel").shape);
        Assert.True(intoTimeDistributed.MaxDifference(model) <= 1e-5);
    }

    [Fact]
    public void EmbeddingAsConsumer_AndTimeDistributedBatchNorm_AreRefusedByName()
    {
        using var model = Create(TestModels.Sequential(new long[] { 4, 3 },
            ("TimeDistributed", Wrap("Dense", new JsonObject { ["units"] = 5 })),
            ("TimeDistributed", Wrap("BatchNormalization", new JsonObject())),
            ("Flatten", new JsonObject()),
            ("Dense", new JsonObject { ["units"] = 2 })));

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("l0", new[] { 1 }).Operate());

        Assert.Contains("'l1' (TimeDistributed(BatchNormalization))", e.Message);
    }
}

/// <summary>GroupNormalization after a pruned layer: whole groups go exactly; equal losses per group are inexact; others refused.</summary>
public sealed class GroupNormalizationConsumerTests
{
    private static KerasModel Create()
    {
        var json = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 6, 6, 2], "name": "in"}},
              {"class_name": "Conv2D", "config": {"name": "conv", "filters": 8, "kernel_size": 3, "activation": "relu"}},
              {"class_name": "GroupNormalization", "config": {"name": "gn", "groups": 4, "axis": -1, "epsilon": 0.001}},
              {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
              {"class_name": "Dense", "config": {"name": "out", "units": 2}}]}}
            """;
        var model = KerasFile.CreateFromArchitecture(json, seed: 41);
        ReferenceModels.Randomize(model, 42);
        return model;
    }

    [Fact]
    public void WholeGroups_AreRemovedExactly()
    {
        using var model = Create();

        using var result = new ModelSurgeon(model).DeleteChannels("conv", new[] { 2, 3 }).Operate();

        Assert.Equal(3, result.Model["gn"].Config.GetProperty("groups").GetInt32());
        Assert.Equal(new long[] { 6 }, result.Model["gn"].FindWeight("gamma")!.Value.shape);
        Assert.Empty(result.InexactLayers);
        Assert.True(result.MaxDifference(model) <= 1e-5, $"max |diff| {result.MaxDifference(model)}");
    }

    [Fact]
    public void EqualLossesPerGroup_AreReported_AndUnevenOnesRefused()
    {
        using var model = Create();

        using var even = new ModelSurgeon(model).DeleteChannels("conv", new[] { 0, 2, 4, 6 }).Operate();
        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("conv", new[] { 0 }).Operate());

        Assert.Equal(4, even.Model["gn"].Config.GetProperty("groups").GetInt32());
        Assert.Contains(even.InexactLayers, l => l.StartsWith("gn (GroupNormalization)", StringComparison.Ordinal));
        Assert.Contains("groups of different sizes", e.Message);
    }
}
