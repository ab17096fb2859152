using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Forward;
using static TorchSharp.torch;
using Node = Surgeon.Runtime.Tests.Surgery.KerasModelBuilder.Node;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// The Python keras-surgeon test suite (tests/test_surgeon.py, 152 parametrised cases, and test_utils.py), ported:
/// the same models, the same parametrisation (data_format in {channels_first, channels_last}, channels in {[0], [-1],
/// [1, 2]}) and the same exact weight formulas (ch = channels wrapped modulo the channel count, F = flattened size):
/// Dense after Flatten loses rows <c>x + i*C</c> (channels_last) or <c>x*F/C + i</c> (channels_first), the next
/// convolution loses kernel slices on axis -2, global pooling and RNN consumers lose kernel rows <c>ch</c>.
/// Python's unseeded <c>randint(10, 20)</c> input sizes come from a <see cref="Random"/> seeded per test. Beyond Python,
/// every channel deletion whose target is not recurrent is also checked numerically: the pruned model's outputs equal
/// the original's with the deleted channels zeroed.
/// <list type="bullet">
/// <item>#1 test_rebuild_submodel: <see cref="RebuildSubmodel_NoJobs_ReproducesConfigAndWeights"/></item>
/// <item>#2 test_delete_channels_rec_1: <see cref="DeleteChannels_Rec1_DenseChainIsPruned"/></item>
/// <item>#3 test_delete_channels_conv2d_conv2d: <see cref="DeleteChannels_Conv2dConv2d_PrunesTheLayer"/></item>
/// <item>#4 test_delete_channels_conv2d_conv2d_small_shape: <see cref="DeleteChannels_Conv2dConv2dSmallShape_PrunesTheLayer"/></item>
/// <item>#5 test_delete_channels_conv2d_conv2d_next_layer: <see cref="DeleteChannels_Conv2dConv2dNextLayer_DropsInputChannels"/></item>
/// <item>#6 test_delete_channels_flatten: <see cref="DeleteChannels_Flatten_DropsDenseRows"/></item>
/// <item>#7-11 test_delete_channels_{maxpooling,cropping,upsampling,zeropadding,averagepooling}1d: <see cref="DeleteChannels_MaxPooling1d_DropsDenseRows"/>,
/// <see cref="DeleteChannels_Cropping1d_DropsDenseRows"/>, <see cref="DeleteChannels_UpSampling1d_DropsDenseRows"/>,
/// <see cref="DeleteChannels_ZeroPadding1d_DropsDenseRows"/>, <see cref="DeleteChannels_AveragePooling1d_DropsDenseRows"/></item>
/// <item>#12 test_delete_channels_globalaveragepooling1d: <see cref="DeleteChannels_GlobalAveragePooling1d_DropsDenseRows"/></item>
/// <item>#13-17 the same five layers in 2D: <see cref="DeleteChannels_MaxPooling2d_DropsDenseRows"/>, <see cref="DeleteChannels_Cropping2d_DropsDenseRows"/>,
/// <see cref="DeleteChannels_UpSampling2d_DropsDenseRows"/>, <see cref="DeleteChannels_ZeroPadding2d_DropsDenseRows"/>, <see cref="DeleteChannels_AveragePooling2d_DropsDenseRows"/></item>
/// <item>#18 test_delete_channels_globalaveragepooling2d: <see cref="DeleteChannels_GlobalAveragePooling2d_DropsDenseRows"/></item>
/// <item>#19-23 the same five layers in 3D: <see cref="DeleteChannels_MaxPooling3d_DropsDenseRows"/>, <see cref="DeleteChannels_Cropping3d_DropsDenseRows"/>,
/// <see cref="DeleteChannels_UpSampling3d_DropsDenseRows"/>, <see cref="DeleteChannels_ZeroPadding3d_DropsDenseRows"/>, <see cref="DeleteChannels_AveragePooling3d_DropsDenseRows"/></item>
/// <item>#24 test_delete_channels_merge_concatenate: <see cref="DeleteChannels_MergeConcatenate_DropsOffsetDenseRows"/></item>
/// <item>#25 test_delete_channels_merge_others: <see cref="DeleteChannels_MergeOthers_DropsDenseRows"/></item>
/// <item>#26 test_delete_channels_advanced_activations: <see cref="DeleteChannels_AdvancedActivations_PassTheDeletionOn"/></item>
/// <item>#27 test_delete_channels_noise: <see cref="DeleteChannels_Noise_PassTheDeletionOn"/></item>
/// <item>#28-30 test_delete_channels_{simplernn,gru,lstm}: <see cref="DeleteChannels_SimpleRnn_DropsNextGruKernelRows"/>,
/// <see cref="DeleteChannels_Gru_DropsNextGruKernelRows"/>, <see cref="DeleteChannels_Lstm_DropsNextGruKernelRows"/></item>
/// <item>#31 test_delete_channels_batchnormalization: <see cref="DeleteChannels_BatchNormalization_DropsDenseRows"/></item>
/// <item>#32 test_delete_layer: <see cref="DeleteLayer_Dense_EqualsTheModelBuiltWithoutIt"/></item>
/// <item>#33 test_delete_layer_reuse: <see cref="DeleteLayer_Reuse_RemovesEveryCall"/></item>
/// <item>#34 test_replace_layer: <see cref="ReplaceLayer_Dense_EqualsTheModelBuiltWithTheNewLayer"/></item>
/// <item>#35 test_insert_layer: <see cref="InsertLayer_BeforeDense_EqualsTheModelBuiltWithIt"/></item>
/// <item>#36 test_delete_layer_same_layer_outputs: <see cref="DeleteLayer_SameLayerOutputs_RewiresTheSharedOutputLayer"/></item>
/// <item>#37 test_delete_channels_downstream_sharing: <see cref="DeleteChannels_DownstreamSharing_KeepsSharingOrRefuses"/></item>
/// <item>#38 test_delete_all_channels_in_branch: <see cref="DeleteChannels_AllChannelsInBranch_RemovesBranchAndConcatenate"/></item>
/// <item>#39 test_delete_all_channels_in_long_branch: <see cref="DeleteChannels_AllChannelsInLongBranch_RemovesTheWholeBranch"/></item>
/// <item>test_utils.py test_get_shallower_nodes: <see cref="GetShallowerNodes_SharedLayer_EachCallFeedsItsOwnConsumers"/>.
/// test_find_activation_layer and test_mean_calculator are not ported: Surgeon has no find_activation_layer or
/// MeanCalculator yet (they belong to the APoZ work).</item>
/// </list>
/// </summary>
public sealed class KerasSurgeonPortTests
{
    private const string First = "channels_first";
    private const string Last = "channels_last";

    private static readonly int[][] s_channelIndices = { new[] { 0 }, new[] { -1 }, new[] { 1, 2 } };

    /// <summary>Python's <c>channel_index x data_format</c> fixtures: 6 cases.</summary>
    public static TheoryData<int[], string> ChannelsAndFormats()
    {
        var data = new TheoryData<int[], string>();
        foreach (var channels in s_channelIndices)
            foreach (var format in new[] { First, Last })
                data.Add(channels, format);
        return data;
    }

    /// <summary>Python's <c>channel_index</c> fixture alone: 3 cases.</summary>
    public static TheoryData<int[]> Channels()
    {
        var data = new TheoryData<int[]>();
        foreach (var channels in s_channelIndices) data.Add(channels);
        return data;
    }

    // ---------------------------------------------------------------- #1, #2: no-op rebuild, dense chain

    [Fact]
    public void RebuildSubmodel_NoJobs_ReproducesConfigAndWeights()
    {
        // model_1 (Sequential) and model_2 (the same wrapped as a functional Model).
        JsonObject conv() => Conv(2, 2, new[] { 3, 3 }, Last, "relu");
        var sequential = KerasModelBuilder.Sequential("model_1", new[] { 28, 28, 1 },
            ("Conv2D", "conv2d_1", conv()), ("Conv2D", "conv2d_2", conv()), ("Flatten", "flatten_1", FlattenConfig()),
            ("Dense", "dense_1", Dense(2, "relu")), ("Dense", "dense_2", Dense(10, "relu")));
        var b = new KerasModelBuilder("model_2");
        var x = b.Input("input_1", 28, 28, 1);
        x = b.Layer("Conv2D", "conv2d_1", conv(), x);
        x = b.Layer("Conv2D", "conv2d_2", conv(), x);
        x = b.Layer("Flatten", "flatten_1", FlattenConfig(), x);
        x = b.Layer("Dense", "dense_1", Dense(2, "relu"), x);
        x = b.Layer("Dense", "dense_2", Dense(10, "relu"), x);

        foreach (var json in new[] { b.Build(x), sequential })
        {
            using var model = KerasFile.CreateFromArchitecture(json, seed: 1);
            RandomizeBiases(model, 1);

            using var result = new ModelSurgeon(model).Operate();

            AssertSameConfig(model, result.Model);
            Assert.Null(ModelComparison.FindDifference(model, result.Model));
            Assert.Empty(result.ChangedLayers);
        }
    }

    [Fact]
    public void DeleteChannels_Rec1_DenseChainIsPruned()
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", 784);
        x = b.Layer("Dense", "dense_1", Dense(64, "relu"), x);
        x = b.Layer("Dense", "dense_2", Dense(64, "relu"), x);
        x = b.Layer("Dense", "dense_3", Dense(10, "softmax"), x);
        using var model = KerasFile.CreateFromArchitecture(b.Build(x), seed: 2);
        RandomizeBiases(model, 2);

        // Python: delete_channels(model, model.layers[2], [0]) must not raise.
        using var result = new ModelSurgeon(model).DeleteChannels("dense_2", new[] { 0 }).Operate();

        Assert.Equal(63, result.Model["dense_2"].Config.GetProperty("units").GetInt32());
        AssertPrunedLayer(model, result.Model, "dense_2", new[] { 0 });
        AssertWeight(result.Model, "dense_3", "kernel", Delete(W(model, "dense_3", "kernel"), new[] { 0 }, 0));
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["dense_2"] = new[] { 0 } });
    }

    // ---------------------------------------------------------------- #3-#5: model_3 / model_4 with fixed weights

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_Conv2dConv2d_PrunesTheLayer(int[] channels, string dataFormat)
    {
        using var model = Model3(dataFormat, new[] { 7, 7 }, "valid");

        using var result = new ModelSurgeon(model).DeleteChannels("conv2d_1", channels).Operate();

        var ch = Wrap(channels, 3);
        AssertWeight(result.Model, "conv2d_1", "kernel", Delete(W(model, "conv2d_1", "kernel"), ch, -1));
        AssertWeight(result.Model, "conv2d_1", "bias", Delete(W(model, "conv2d_1", "bias"), ch, 0));
        AssertRandomizedCopyIsEquivalent(model, "conv2d_1", channels, seed: 3);
    }

    [Fact]
    public void DeleteChannels_Conv2dConv2dSmallShape_PrunesTheLayer()
    {
        // Input 2x2x1 is smaller than the 3x3 kernels ('same' padding): keras-surgeon 0.1.2's regression test.
        using var model = Model3(Last, new[] { 2, 2 }, "same");

        using var result = new ModelSurgeon(model).DeleteChannels("conv2d_1", new[] { 0 }).Operate();

        AssertWeight(result.Model, "conv2d_1", "kernel", Delete(W(model, "conv2d_1", "kernel"), new[] { 0 }, -1));
        AssertWeight(result.Model, "conv2d_1", "bias", Delete(W(model, "conv2d_1", "bias"), new[] { 0 }, 0));
        AssertWeight(result.Model, "conv2d_2", "kernel", Delete(W(model, "conv2d_2", "kernel"), new[] { 0 }, -2));
        AssertRandomizedCopyIsEquivalent(model, "conv2d_1", new[] { 0 }, seed: 4);
    }

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_Conv2dConv2dNextLayer_DropsInputChannels(int[] channels, string dataFormat)
    {
        using var model = Model3(dataFormat, new[] { 7, 7 }, "valid");

        using var result = new ModelSurgeon(model).DeleteChannels("conv2d_1", channels).Operate();

        var ch = Wrap(channels, 3);
        AssertWeight(result.Model, "conv2d_2", "kernel", Delete(W(model, "conv2d_2", "kernel"), ch, -2));
        AssertWeight(result.Model, "conv2d_2", "bias", W(model, "conv2d_2", "bias"));
        AssertRandomizedCopyIsEquivalent(model, "conv2d_1", channels, seed: 5);
    }

    // ---------------------------------------------------------------- #6: Conv2D -> Flatten -> Dense

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_Flatten_DropsDenseRows(int[] channels, string dataFormat)
    {
        var sizes = new Random(6);
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", Sizes(sizes, 3, 4, 10));
        x = b.Layer("Conv2D", "conv", Conv(2, 3, new[] { 3, 3 }, dataFormat), x);
        x = b.Layer("Flatten", "flatten", FlattenConfig(), x);
        x = b.Layer("Dense", "dense", Dense(5), x);
        using var model = KerasFile.CreateFromArchitecture(b.Build(x), seed: 6);
        RandomizeBiases(model, 6);

        using var result = new ModelSurgeon(model).DeleteChannels("conv", channels).Operate();

        AssertDenseAfterFlatten(model, result, Wrap(channels, 3), 3, dataFormat);
        AssertPrunedLayer(model, result.Model, "conv", Wrap(channels, 3));
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["conv"] = Wrap(channels, 3) });
    }

    // ---------------------------------------------------------------- #7-#12: 1D layers (channels_last only)

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_MaxPooling1d_DropsDenseRows(int[] channels) =>
        FlattenHelper(1, ("MaxPooling1D", Pool(new[] { 2 }, Last)), channels, Last, seed: 7);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_Cropping1d_DropsDenseRows(int[] channels) =>
        FlattenHelper(1, ("Cropping1D", new JsonObject { ["cropping"] = Ints(3, 3) }), channels, Last, seed: 8);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_UpSampling1d_DropsDenseRows(int[] channels) =>
        FlattenHelper(1, ("UpSampling1D", new JsonObject { ["size"] = 3 }), channels, Last, seed: 9);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_ZeroPadding1d_DropsDenseRows(int[] channels) =>
        FlattenHelper(1, ("ZeroPadding1D", new JsonObject { ["padding"] = Ints(3, 3) }), channels, Last, seed: 10);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_AveragePooling1d_DropsDenseRows(int[] channels) =>
        FlattenHelper(1, ("AveragePooling1D", Pool(new[] { 3 }, Last)), channels, Last, seed: 11);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_GlobalAveragePooling1d_DropsDenseRows(int[] channels) =>
        GlobalPoolingHelper(1, channels, Last, seed: 12);

    // ---------------------------------------------------------------- #13-#18: 2D layers

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_MaxPooling2d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(2, ("MaxPooling2D", Pool(new[] { 2, 2 }, dataFormat)), channels, dataFormat, seed: 13);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_Cropping2d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(2, ("Cropping2D", new JsonObject { ["cropping"] = Pairs(2, 3), ["data_format"] = dataFormat }), channels, dataFormat, seed: 14);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_UpSampling2d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(2, ("UpSampling2D", new JsonObject { ["size"] = Ints(2, 3), ["data_format"] = dataFormat, ["interpolation"] = "nearest" }), channels, dataFormat, seed: 15);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_ZeroPadding2d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(2, ("ZeroPadding2D", new JsonObject { ["padding"] = Pairs(2, 3), ["data_format"] = dataFormat }), channels, dataFormat, seed: 16);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_AveragePooling2d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(2, ("AveragePooling2D", Pool(new[] { 2, 3 }, dataFormat)), channels, dataFormat, seed: 17);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_GlobalAveragePooling2d_DropsDenseRows(int[] channels, string dataFormat) =>
        GlobalPoolingHelper(2, channels, dataFormat, seed: 18);

    // ---------------------------------------------------------------- #19-#23: 3D layers

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_MaxPooling3d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(3, ("MaxPooling3D", Pool(new[] { 2, 3, 2 }, dataFormat)), channels, dataFormat, seed: 19);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_Cropping3d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(3, ("Cropping3D", new JsonObject { ["cropping"] = Pairs(2, 3, 2), ["data_format"] = dataFormat }), channels, dataFormat, seed: 20);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_UpSampling3d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(3, ("UpSampling3D", new JsonObject { ["size"] = Ints(2, 3, 2), ["data_format"] = dataFormat }), channels, dataFormat, seed: 21);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_ZeroPadding3d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(3, ("ZeroPadding3D", new JsonObject { ["padding"] = Pairs(2, 3, 2), ["data_format"] = dataFormat }), channels, dataFormat, seed: 22);

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_AveragePooling3d_DropsDenseRows(int[] channels, string dataFormat) =>
        FlattenHelper(3, ("AveragePooling3D", Pool(new[] { 2, 3, 2 }, dataFormat)), channels, dataFormat, seed: 23);

    // ---------------------------------------------------------------- #24, #25: merges

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_MergeConcatenate_DropsOffsetDenseRows(int[] channels, string dataFormat)
    {
        using var model = KerasFile.CreateFromArchitecture(MergeModel("Concatenate", new JsonObject { ["axis"] = dataFormat == First ? 1 : -1 }, dataFormat, new Random(24)), seed: 24);
        RandomizeBiases(model, 24);

        // Only conv_1 loses channels; its channels come first in cat_1, so the rows repeat every 2C features.
        using var result = new ModelSurgeon(model).DeleteChannels("conv_1", channels).Operate();

        var ch = Wrap(channels, 3);
        AssertDenseAfterFlatten(model, result, ch, 2 * 3, dataFormat, dense: "dense_1");
        Assert.Empty(result.CoupledLayers);
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["conv_1"] = ch });
    }

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_MergeOthers_DropsDenseRows(int[] channels, string dataFormat)
    {
        var sizes = new Random(25);
        foreach (var merge in new[] { "Add", "Multiply", "Average", "Maximum" })
        {
            using var model = KerasFile.CreateFromArchitecture(MergeModel(merge, new JsonObject(), dataFormat, sizes), seed: 25);
            RandomizeBiases(model, 25);

            // As in Python, the same channels are deleted from both inputs of the merge in one surgery.
            using var result = new ModelSurgeon(model).DeleteChannels("conv_1", channels).DeleteChannels("conv_2", channels).Operate();

            var ch = Wrap(channels, 3);
            AssertDenseAfterFlatten(model, result, ch, 3, dataFormat, dense: "dense_1", what: merge);
            Assert.Empty(result.CoupledLayers);
            AssertPrunedEqualsMaskedOriginal(model, result, new() { ["conv_1"] = ch, ["conv_2"] = ch }, merge);
        }
    }

    // ---------------------------------------------------------------- #26, #27: pass-through layers

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_AdvancedActivations_PassTheDeletionOn(int[] channels, string dataFormat)
    {
        // ReLU is in keras-surgeon's master only (PR #53); it is here too.
        FlattenHelper(2, ("LeakyReLU", new JsonObject { ["alpha"] = 0.3 }), channels, dataFormat, seed: 26);
        FlattenHelper(2, ("ELU", new JsonObject { ["alpha"] = 1.0 }), channels, dataFormat, seed: 26);
        FlattenHelper(2, ("ThresholdedReLU", new JsonObject { ["theta"] = 1.0 }), channels, dataFormat, seed: 26);
        FlattenHelper(2, ("ReLU", new JsonObject { ["max_value"] = null, ["negative_slope"] = 0.0, ["threshold"] = 0.0 }), channels, dataFormat, seed: 26);
    }

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_Noise_PassTheDeletionOn(int[] channels, string dataFormat)
    {
        FlattenHelper(2, ("GaussianNoise", new JsonObject { ["stddev"] = 0.5 }), channels, dataFormat, seed: 27);
        FlattenHelper(2, ("GaussianDropout", new JsonObject { ["rate"] = 0.5 }), channels, dataFormat, seed: 27);
        FlattenHelper(2, ("AlphaDropout", new JsonObject { ["rate"] = 0.5 }), channels, dataFormat, seed: 27);
    }

    // ---------------------------------------------------------------- #28-#30: recurrent layers

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_SimpleRnn_DropsNextGruKernelRows(int[] channels) =>
        RecurrentHelper("SimpleRNN", new JsonObject { ["units"] = 9, ["return_sequences"] = true, ["activation"] = "tanh" }, 1, channels, seed: 28);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_Gru_DropsNextGruKernelRows(int[] channels) =>
        RecurrentHelper("GRU", new JsonObject { ["units"] = 9, ["return_sequences"] = true, ["activation"] = "tanh", ["recurrent_activation"] = "sigmoid", ["reset_after"] = true }, 3, channels, seed: 29);

    [Theory]
    [MemberData(nameof(Channels))]
    public void DeleteChannels_Lstm_DropsNextGruKernelRows(int[] channels) =>
        RecurrentHelper("LSTM", new JsonObject { ["units"] = 9, ["return_sequences"] = true, ["activation"] = "tanh", ["recurrent_activation"] = "sigmoid" }, 4, channels, seed: 30);

    // ---------------------------------------------------------------- #31: BatchNormalization

    [Theory]
    [MemberData(nameof(ChannelsAndFormats))]
    public void DeleteChannels_BatchNormalization_DropsDenseRows(int[] channels, string dataFormat)
    {
        var bn = new JsonObject { ["axis"] = dataFormat == First ? 1 : -1, ["momentum"] = 0.99, ["epsilon"] = 0.001, ["center"] = true, ["scale"] = true };
        // As in Python, a fresh BatchNormalization (gamma 1, beta 0, mean 0, variance 1): the Dense bias stays as it was.
        FlattenHelper(2, ("BatchNormalization", bn), channels, dataFormat, seed: 31);

        // Beyond Python: trained statistics give a zeroed channel a constant, which the surgery folds into the bias.
        var ch = Wrap(channels, 3);
        using var model = KerasFile.CreateFromArchitecture(FlattenModel(2, ("BatchNormalization", bn), dataFormat, new Random(31)), seed: 31);
        ReferenceModels.Randomize(model, 31);
        using var result = new ModelSurgeon(model).DeleteChannels("conv", channels).Operate();
        foreach (var w in new[] { "gamma", "beta", "moving_mean", "moving_variance" })
            AssertWeight(result.Model, "layer", w, Delete(W(model, "layer", w), ch, 0));
        var kernel = W(model, "dense", "kernel");
        AssertWeight(result.Model, "dense", "kernel", Delete(kernel, FlattenRows(ch, (int)kernel.shape[0], 3, dataFormat), 0));
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["conv"] = ch }, "trained BatchNormalization");
    }

    // ---------------------------------------------------------------- #32-#36: delete, replace and insert layers

    [Fact]
    public void DeleteLayer_Dense_EqualsTheModelBuiltWithoutIt()
    {
        string Build(bool withDense2)
        {
            var b = new KerasModelBuilder();
            var x = b.Input("input_1", 7, 7, 1);
            x = b.Layer("Conv2D", "conv2d_1", Conv(2, 3, new[] { 3, 3 }, Last), x);
            x = b.Layer("Conv2D", "conv2d_2", Conv(2, 3, new[] { 3, 3 }, Last), x);
            x = b.Layer("Flatten", "flatten_1", FlattenConfig(), x);
            x = b.Layer("Dense", "dense_1", Dense(3), x);
            if (withDense2) x = b.Layer("Dense", "dense_2", Dense(3), x);
            x = b.Layer("Dense", "dense_3", Dense(3), x);
            x = b.Layer("Dense", "dense_4", Dense(1), x);
            return b.Build(x);
        }
        using var model = KerasFile.CreateFromArchitecture(Build(true), seed: 32);
        RandomizeBiases(model, 32);

        using var result = new ModelSurgeon(model).DeleteLayer("dense_2").Operate();

        AssertSameModel(result.Model, Build(false), model);
    }

    [Fact]
    public void DeleteLayer_Reuse_RemovesEveryCall()
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", 3);
        x = b.Layer("Dense", "dense_1", Dense(3), x);
        x = b.Layer("Dense", "dense_2", Dense(3), x);
        x = b.Layer("Dense", "dense_3", Dense(3), x);
        x = b.Call("dense_2", x);
        x = b.Layer("Dense", "dense_4", Dense(3), x);
        using var model = KerasFile.CreateFromArchitecture(b.Build(x), seed: 33);
        RandomizeBiases(model, 33);

        using var result = new ModelSurgeon(model).DeleteLayer("dense_2").Operate();

        var e = new KerasModelBuilder();
        var y = e.Input("input_1", 3);
        y = e.Layer("Dense", "dense_1", Dense(3), y);
        y = e.Layer("Dense", "dense_3", Dense(3), y);
        y = e.Layer("Dense", "dense_4", Dense(3), y);
        AssertSameModel(result.Model, e.Build(y), model);
    }

    [Fact]
    public void ReplaceLayer_Dense_EqualsTheModelBuiltWithTheNewLayer()
    {
        string Build(string middle)
        {
            var b = new KerasModelBuilder();
            var x = b.Input("input_1", 7, 7, 1);
            x = b.Layer("Dense", "dense_1", Dense(3), x);
            x = b.Layer("Dense", middle, Dense(3), x);
            x = b.Layer("Dense", "dense_4", Dense(1), x);
            return b.Build(x);
        }
        using var model = KerasFile.CreateFromArchitecture(Build("dense_2"), seed: 34);
        RandomizeBiases(model, 34);
        // As in Python, dense_3 is built (given its weights) in the expected model first.
        using var expected = KerasFile.CreateFromArchitecture(Build("dense_3"), seed: 340);
        RandomizeBiases(expected, 340);
        var dense3 = new LayerSpec("Dense", Dense(3)) { Name = "dense_3", Weights = expected["dense_3"].Weights.ToDictionary(w => w.Name, w => w.Value) };

        using var result = new ModelSurgeon(model).ReplaceLayer("dense_2", dense3).Operate();

        AssertSameModel(result.Model, Build("dense_3"), model, expected);
    }

    [Fact]
    public void InsertLayer_BeforeDense_EqualsTheModelBuiltWithIt()
    {
        string Build(bool withDense3)
        {
            var b = new KerasModelBuilder();
            var x = b.Input("input_1", 7, 7, 1);
            x = b.Layer("Dense", "dense_1", Dense(3), x);
            x = b.Layer("Dense", "dense_2", Dense(3), x);
            if (withDense3) x = b.Layer("Dense", "dense_3", Dense(3), x);
            x = b.Layer("Dense", "dense_4", Dense(1), x);
            return b.Build(x);
        }
        using var model = KerasFile.CreateFromArchitecture(Build(false), seed: 35);
        RandomizeBiases(model, 35);
        using var expected = KerasFile.CreateFromArchitecture(Build(true), seed: 350);
        RandomizeBiases(expected, 350);
        var dense3 = new LayerSpec("Dense", Dense(3)) { Name = "dense_3", Weights = expected["dense_3"].Weights.ToDictionary(w => w.Name, w => w.Value) };

        using var result = new ModelSurgeon(model).InsertLayerBefore("dense_4", dense3).Operate();

        AssertSameModel(result.Model, Build(true), model, expected);
    }

    [Fact]
    public void DeleteLayer_SameLayerOutputs_RewiresTheSharedOutputLayer()
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", 10);
        x = b.Layer("Dense", "dense_1", Dense(3), x);
        var y = b.Layer("Dense", "dense_2", Dense(3), x);
        x = b.Layer("Dense", "dense_3", Dense(3), x);
        var out1 = b.Layer("Dense", "dense_4", Dense(1), x);
        var out2 = b.Call("dense_4", y);
        using var model = KerasFile.CreateFromArchitecture(b.Build(out1, out2), seed: 36);
        RandomizeBiases(model, 36);

        using var result = new ModelSurgeon(model).DeleteLayer("dense_3").Operate();

        var e = new KerasModelBuilder();
        var ex = e.Input("input_1", 10);
        ex = e.Layer("Dense", "dense_1", Dense(3), ex);
        var ey = e.Layer("Dense", "dense_2", Dense(3), ex);
        var eout1 = e.Layer("Dense", "dense_4", Dense(1), ex);
        var eout2 = e.Call("dense_4", ey);
        AssertSameModel(result.Model, e.Build(eout1, eout2), model);
    }

    // ---------------------------------------------------------------- #37: a downstream layer shared by pruned branches

    [Fact]
    public void DeleteChannels_DownstreamSharing_KeepsSharingOrRefuses()
    {
        string Build(int units)
        {
            var b = new KerasModelBuilder();
            var i = b.Input("input_1", 5);
            var x = b.Layer("Dense", "dense_1", Dense(units), i);
            var y = b.Layer("Dense", "dense_2", Dense(units), i);
            var out1 = b.Layer("Dense", "dense_3", Dense(3), x);
            var out2 = b.Call("dense_3", y);
            return b.Build(out1, out2);
        }
        using var model = KerasFile.CreateFromArchitecture(Build(4), seed: 37);
        RandomizeBiases(model, 37);

        // Python deletes [0] from dense_1 and [1] from dense_2 and checks the config only: its shared dense_3 is sliced
        // by the first mask, so the second call silently gets wrong weights. No single dense_3 fits both, so Surgeon
        // refuses, naming the shared layer.
        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("dense_1", new[] { 0 }).DeleteChannels("dense_2", new[] { 1 }).Operate());
        Assert.Contains("'dense_3'", e.Message);
        Assert.Contains("shared", e.Message);

        // When both branches lose the same channel, Python's expected model results: dense_1(3), dense_2(3) and one
        // dense_3(3) still shared, with weights right for both calls.
        using var result = new ModelSurgeon(model).DeleteChannels("dense_1", new[] { 0 }).DeleteChannels("dense_2", new[] { 0 }).Operate();
        using (var expected = KerasFile.CreateFromArchitecture(Build(3)))
            AssertSameConfig(expected, result.Model);
        AssertPrunedLayer(model, result.Model, "dense_1", new[] { 0 });
        AssertPrunedLayer(model, result.Model, "dense_2", new[] { 0 });
        AssertWeight(result.Model, "dense_3", "kernel", Delete(W(model, "dense_3", "kernel"), new[] { 0 }, 0));
        AssertWeight(result.Model, "dense_3", "bias", W(model, "dense_3", "bias"));
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["dense_1"] = new[] { 0 }, ["dense_2"] = new[] { 0 } });
    }

    // ---------------------------------------------------------------- #38, #39: deleting every channel of a branch

    [Fact]
    public void DeleteChannels_AllChannelsInBranch_RemovesBranchAndConcatenate() => AllChannelsInBranch(longBranch: false);

    [Fact]
    public void DeleteChannels_AllChannelsInLongBranch_RemovesTheWholeBranch() => AllChannelsInBranch(longBranch: true);

    private static void AllChannelsInBranch(bool longBranch)
    {
        var b = new KerasModelBuilder();
        var input = b.Input("input_1", 20, 20, 3);
        var x = b.Layer("Conv2D", "conv_1", Conv(2, 2, new[] { 3, 3 }, Last), input);
        if (longBranch) x = b.Layer("Conv2D", "conv_3", Conv(2, 4, new[] { 1, 1 }, Last), x);
        var y = b.Layer("Conv2D", "conv_2", Conv(2, 3, new[] { 3, 3 }, Last), input);
        var cat = b.Layer("Concatenate", "cat_1", new JsonObject { ["axis"] = -1 }, x, y);
        using var model = KerasFile.CreateFromArchitecture(b.Build(cat), seed: 38);
        RandomizeBiases(model, 38);

        using var result = new ModelSurgeon(model).DeleteChannels("conv_1", new[] { 0, 1 }).Operate();

        // Expected: Model(input_1, conv_2(input_1)); the branch and the Concatenate are gone.
        var e = new KerasModelBuilder();
        var ei = e.Input("input_1", 20, 20, 3);
        var ey = e.Layer("Conv2D", "conv_2", Conv(2, 3, new[] { 3, 3 }, Last), ei);
        AssertSameModel(result.Model, e.Build(ey), model);
        // Beyond Python: the result's output is the original's concatenation without the removed branch's channels.
        using var input0 = rand(new long[] { 2, 20, 20, 3 }, generator: new Generator(38)) * 2 - 1;
        using var original = ModelRunner.Create(model);
        using var pruned = ModelRunner.Create(result.Model);
        using var full = original.Predict(input0);
        using var kept = pruned.Predict(input0);
        using var expected = full.narrow(-1, longBranch ? 4 : 2, 3);
        RecordedOutputTests.AssertClose(expected, kept, "conv_2's channels of cat_1");
    }

    // ---------------------------------------------------------------- test_utils.py

    [Fact]
    public void GetShallowerNodes_SharedLayer_EachCallFeedsItsOwnConsumers()
    {
        // keras-surgeon's get_shallower_nodes(node) lists the calls consuming a call's output. Surgeon has no such
        // helper; the same query runs on the parsed graph (KerasLayer.InboundNodes). A saved model does not record the
        // order in which calls were made, so consumers are compared as sets.
        static HashSet<(string, int)> Shallower(KerasModel m, string layer, int node) => m.Layers
            .SelectMany(l => l.InboundNodes.Select((n, i) => (Layer: l.Name, Index: i, Node: n)))
            .Where(c => c.Node.Inputs.Any(t => t.Layer == layer && t.NodeIndex == node))
            .Select(c => (c.Layer, c.Index)).ToHashSet();
        string Build(bool reuseDense2)
        {
            var b = new KerasModelBuilder();
            var i1 = b.Input("input_1", 10);
            var i2 = b.Input("input_2", 10);
            var x = b.Layer("Dense", "dense_1", Dense(3), i1);
            var y = b.Call("dense_1", i2);
            var out1 = b.Layer("Dense", "dense_2", Dense(4), x);
            var out2 = b.Layer("Dense", "dense_3", Dense(5), y);
            return reuseDense2 ? b.Build(out1, out2, b.Call("dense_2", y)) : b.Build(out1, out2);
        }

        using var before = KerasFile.CreateFromArchitecture(Build(false), seed: 40);
        Assert.Equal(2, before["dense_1"].InboundNodes.Count);
        Assert.Equal(new HashSet<(string, int)> { ("dense_2", 0) }, Shallower(before, "dense_1", 0));
        Assert.Equal(new HashSet<(string, int)> { ("dense_3", 0) }, Shallower(before, "dense_1", 1));

        using var after = KerasFile.CreateFromArchitecture(Build(true), seed: 40);
        Assert.Equal(new HashSet<(string, int)> { ("dense_2", 0) }, Shallower(after, "dense_1", 0));
        Assert.Equal(new HashSet<(string, int)> { ("dense_3", 0), ("dense_2", 1) }, Shallower(after, "dense_1", 1));
        // The second call of dense_2 runs on input_2's branch with dense_2's one set of weights.
        using var runner = ModelRunner.Create(after);
        using var a = rand(new long[] { 2, 10 }, generator: new Generator(1));
        using var c = rand(new long[] { 2, 10 }, generator: new Generator(2));
        var outputs = runner.Predict(new[] { a, c });
        Assert.Equal(new long[] { 2, 4 }, outputs[2].shape);
        foreach (var o in outputs) o.Dispose();
    }

    // ================================================================ helpers: models

    /// <summary>
    /// keras-surgeon's model_3 (and model_4 with <paramref name="spatial"/> 2x2 and 'same' padding): two Conv2D(3, 3x3),
    /// Flatten, Dense(3), Dense(1), with its fixed weights (conv2d_1 = 1..27 and bias 100, 200, 300; conv2d_2 and dense_1
    /// = 0..80).
    /// </summary>
    private static KerasModel Model3(string dataFormat, int[] spatial, string padding)
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", dataFormat == Last ? new[] { spatial[0], spatial[1], 1 } : new[] { 1, spatial[0], spatial[1] });
        x = b.Layer("Conv2D", "conv2d_1", Conv(2, 3, new[] { 3, 3 }, dataFormat, padding: padding), x);
        x = b.Layer("Conv2D", "conv2d_2", Conv(2, 3, new[] { 3, 3 }, dataFormat, padding: padding), x);
        x = b.Layer("Flatten", "flatten_1", FlattenConfig(), x);
        x = b.Layer("Dense", "dense_1", Dense(3), x);
        x = b.Layer("Dense", "dense_2", Dense(1), x);
        var model = KerasFile.CreateFromArchitecture(b.Build(x), seed: 3);
        using var hundreds = tensor(new float[] { 100, 200, 300 });
        using var w1 = arange(1, 28, ScalarType.Float32).reshape(3, 3, 1, 3);
        using var w2 = arange(0, 81, ScalarType.Float32).reshape(3, 3, 3, 3);
        Set(model, "conv2d_1", "kernel", w1);
        Set(model, "conv2d_1", "bias", hundreds);
        Set(model, "conv2d_2", "kernel", w2);
        Set(model, "conv2d_2", "bias", hundreds);
        if (model["dense_1"].FindWeight("kernel")!.Shape[0] == 27)
        {
            using var w4 = arange(0, 81, ScalarType.Float32).reshape(27, 3);
            Set(model, "dense_1", "kernel", w4);
            Set(model, "dense_1", "bias", hundreds);
        }
        return model;
    }

    /// <summary>Input (10..19 per axis) -> Conv{rank}D(3) "conv" -> <paramref name="layer"/> "layer" -> Flatten -> Dense(5) "dense".</summary>
    private static string FlattenModel(int rank, (string Class, JsonObject Config) layer, string dataFormat, Random sizes)
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", Sizes(sizes, rank + 1));
        x = b.Layer($"Conv{rank}D", "conv", Conv(rank, 3, Kernel(rank), dataFormat), x);
        x = b.Layer(layer.Class, "layer", layer.Config, x);
        x = b.Layer("Flatten", "flatten", FlattenConfig(), x);
        x = b.Layer("Dense", "dense", Dense(5), x);
        return b.Build(x);
    }

    /// <summary>Two inputs of one random shape -> conv_1, conv_2 (Conv2D(3, 3x3)) -> <paramref name="merge"/> -> Flatten -> Dense(5) "dense_1".</summary>
    private static string MergeModel(string merge, JsonObject config, string dataFormat, Random sizes)
    {
        var shape = Sizes(sizes, 3);
        var b = new KerasModelBuilder();
        var i1 = b.Input("input_1", shape);
        var i2 = b.Input("input_2", shape);
        var x = b.Layer("Conv2D", "conv_1", Conv(2, 3, new[] { 3, 3 }, dataFormat), i1);
        var y = b.Layer("Conv2D", "conv_2", Conv(2, 3, new[] { 3, 3 }, dataFormat), i2);
        var m = b.Layer(merge, "merge_1", config, x, y);
        var f = b.Layer("Flatten", "flatten_1", FlattenConfig(), m);
        return b.Build(b.Layer("Dense", "dense_1", Dense(5), f));
    }

    /// <summary>keras-surgeon's layer_test_helper_flatten_{1d,2d,3d}: Dense rows per the flatten formula, bias unchanged.</summary>
    private static void FlattenHelper(int rank, (string Class, JsonObject Config) layer, int[] channels, string dataFormat, int seed)
    {
        using var model = KerasFile.CreateFromArchitecture(FlattenModel(rank, layer, dataFormat, new Random(seed)), seed);
        RandomizeBiases(model, seed);

        using var result = new ModelSurgeon(model).DeleteChannels("conv", channels).Operate();

        var ch = Wrap(channels, 3);
        AssertDenseAfterFlatten(model, result, ch, 3, dataFormat, what: layer.Class);
        AssertPrunedLayer(model, result.Model, "conv", ch);
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["conv"] = ch }, layer.Class);
    }

    /// <summary>keras-surgeon's layer_test_helper_{1d,2d}_global: Conv -> GlobalAveragePooling -> Dense(5) loses rows ch.</summary>
    private static void GlobalPoolingHelper(int rank, int[] channels, string dataFormat, int seed)
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", Sizes(new Random(seed), rank + 1));
        x = b.Layer($"Conv{rank}D", "conv", Conv(rank, 3, Kernel(rank), dataFormat), x);
        x = b.Layer($"GlobalAveragePooling{rank}D", "pool", new JsonObject { ["data_format"] = dataFormat }, x);
        x = b.Layer("Dense", "dense", Dense(5), x);
        using var model = KerasFile.CreateFromArchitecture(b.Build(x), seed);
        RandomizeBiases(model, seed);

        using var result = new ModelSurgeon(model).DeleteChannels("conv", channels).Operate();

        var ch = Wrap(channels, 3);
        AssertWeight(result.Model, "dense", "kernel", Delete(W(model, "dense", "kernel"), ch, 0));
        AssertWeight(result.Model, "dense", "bias", W(model, "dense", "bias"));
        AssertPrunedLayer(model, result.Model, "conv", ch);
        AssertPrunedEqualsMaskedOriginal(model, result, new() { ["conv"] = ch });
    }

    /// <summary>
    /// keras-surgeon's recursive_test_helper: Input(32, 10) -> LAYER(9, return_sequences) -> GRU(4) -> Dense(5); the GRU
    /// loses kernel rows ch, its recurrent kernel and bias stay. Beyond Python: the target's own gate blocks are sliced.
    /// (No numerical check: a recurrent unit feeds its own recurrence, so deleting it is not zeroing its output.)
    /// </summary>
    private static void RecurrentHelper(string className, JsonObject config, int gates, int[] channels, int seed)
    {
        var b = new KerasModelBuilder();
        var x = b.Input("input_1", 32, 10);
        x = b.Layer(className, "rnn", config, x);
        x = b.Layer("GRU", "gru", new JsonObject { ["units"] = 4, ["return_sequences"] = false, ["activation"] = "tanh", ["recurrent_activation"] = "sigmoid", ["reset_after"] = true }, x);
        x = b.Layer("Dense", "dense", Dense(5), x);
        using var model = KerasFile.CreateFromArchitecture(b.Build(x), seed);
        ReferenceModels.Randomize(model, seed);

        using var result = new ModelSurgeon(model).DeleteChannels("rnn", channels).Operate();

        var ch = Wrap(channels, 9);
        AssertWeight(result.Model, "gru", "kernel", Delete(W(model, "gru", "kernel"), ch, 0));
        AssertWeight(result.Model, "gru", "recurrent_kernel", W(model, "gru", "recurrent_kernel"));
        AssertWeight(result.Model, "gru", "bias", W(model, "gru", "bias"));

        var columns = Enumerable.Range(0, gates).SelectMany(g => ch.Select(c => g * 9 + c)).ToArray();
        AssertWeight(result.Model, "rnn", "kernel", Delete(W(model, "rnn", "kernel"), columns, -1));
        AssertWeight(result.Model, "rnn", "recurrent_kernel", Delete(Delete(W(model, "rnn", "recurrent_kernel"), columns, -1), ch, 0));
        AssertWeight(result.Model, "rnn", "bias", Delete(W(model, "rnn", "bias"), columns, -1));
        Assert.Equal(9 - ch.Length, result.Model["rnn"].Config.GetProperty("units").GetInt32());
    }

    // ================================================================ helpers: configs

    private static JsonArray Ints(params int[] values) => new(values.Select(v => (JsonNode?)v).ToArray());

    private static JsonArray Pairs(params int[] values) => new(values.Select(v => (JsonNode?)Ints(v, v)).ToArray());

    private static int[] Kernel(int rank) => rank switch { 1 => new[] { 3 }, 2 => new[] { 3, 3 }, _ => new[] { 3, 3, 2 } };

    private static JsonObject Conv(int rank, int filters, int[] kernel, string dataFormat, string activation = "linear", string padding = "valid") => new()
    {
        ["filters"] = filters,
        ["kernel_size"] = Ints(kernel),
        ["strides"] = Ints(Enumerable.Repeat(1, rank).ToArray()),
        ["padding"] = padding,
        ["data_format"] = dataFormat,
        ["dilation_rate"] = Ints(Enumerable.Repeat(1, rank).ToArray()),
        ["activation"] = activation,
        ["use_bias"] = true,
    };

    private static JsonObject Dense(int units, string activation = "linear") => new() { ["units"] = units, ["activation"] = activation, ["use_bias"] = true };

    private static JsonObject Pool(int[] size, string dataFormat) => new() { ["pool_size"] = Ints(size), ["strides"] = Ints(size), ["padding"] = "valid", ["data_format"] = dataFormat };

    private static JsonObject FlattenConfig() => new() { ["data_format"] = Last };

    private static int[] Sizes(Random random, int count, int min = 10, int maxExclusive = 20) =>
        Enumerable.Range(0, count).Select(_ => random.Next(min, maxExclusive)).ToArray();

    // ================================================================ helpers: weights and assertions

    /// <summary>Python's <c>[i % count for i in channels]</c>.</summary>
    private static int[] Wrap(int[] channels, int count) => channels.Select(c => ((c % count) + count) % count).ToArray();

    /// <summary>
    /// The Dense rows fed by the deleted channels after Flatten: channels_last <c>x + i</c> for i in 0, C, 2C...;
    /// channels_first <c>x*F/C + i</c> for i below F/C (C = channels of the flattened tensor).
    /// </summary>
    private static int[] FlattenRows(int[] channels, int flat, int channelCount, string dataFormat) => dataFormat == First
        ? channels.SelectMany(x => Enumerable.Range(0, flat / channelCount).Select(i => x * flat / channelCount + i)).ToArray()
        : Enumerable.Range(0, flat / channelCount).SelectMany(k => channels.Select(x => x + k * channelCount)).ToArray();

    private static void AssertDenseAfterFlatten(KerasModel model, SurgeryResult result, int[] ch, int channelCount, string dataFormat, string dense = "dense", string? what = null)
    {
        var kernel = W(model, dense, "kernel");
        var rows = FlattenRows(ch, (int)kernel.shape[0], channelCount, dataFormat);
        AssertWeight(result.Model, dense, "kernel", Delete(kernel, rows, 0), what);
        AssertWeight(result.Model, dense, "bias", W(model, dense, "bias"), what);
    }

    /// <summary>Python's formula for the pruned layer itself: kernel columns and bias entries ch removed.</summary>
    private static void AssertPrunedLayer(KerasModel original, KerasModel pruned, string layer, int[] ch)
    {
        AssertWeight(pruned, layer, "kernel", Delete(W(original, layer, "kernel"), ch, -1));
        AssertWeight(pruned, layer, "bias", Delete(W(original, layer, "bias"), ch, 0));
    }

    private static Tensor W(KerasModel model, string layer, string weight) =>
        model[layer].FindWeight(weight)?.Value ?? throw new InvalidOperationException($"{layer} has no weight '{weight}'");

    private static void Set(KerasModel model, string layer, string weight, Tensor value)
    {
        using var _ = no_grad();
        W(model, layer, weight).copy_(value);
    }

    /// <summary>Biases are zero when initialised; random ones make "bias unchanged" and the numerical checks telling.</summary>
    private static void RandomizeBiases(KerasModel model, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, w) in model.AllWeights())
        {
            if (w.Name != "bias") continue;
            using var r = rand(w.Value.shape, generator: generator);
            w.Value.copy_(r - 0.5);
        }
    }

    /// <summary>numpy's <c>np.delete(t, indices, axis)</c>.</summary>
    private static Tensor Delete(Tensor t, IEnumerable<int> indices, int axis)
    {
        var dim = axis < 0 ? (int)t.dim() + axis : axis;
        var drop = indices.ToHashSet();
        var keep = Enumerable.Range(0, (int)t.shape[dim]).Where(i => !drop.Contains(i)).Select(i => (long)i).ToArray();
        using var index = tensor(keep, device: t.device);
        return t.index_select(dim, index);
    }

    /// <summary>Python's <c>weights_equal</c> for one weight: same shape and exactly equal values.</summary>
    private static void AssertWeight(KerasModel model, string layer, string weight, Tensor expected, string? what = null)
    {
        var actual = W(model, layer, weight);
        var label = what is null ? $"{layer}/{weight}" : $"{what}: {layer}/{weight}";
        Assert.True(actual.shape.SequenceEqual(expected.shape), $"{label} has shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        Assert.True(actual.eq(expected).all().item<bool>(), $"{label} differs from the expected slice of the original");
    }

    /// <summary>Python's config comparison: the architecture JSON of both models, with the expected model's name overwritten.</summary>
    private static void AssertSameConfig(KerasModel expected, KerasModel actual)
    {
        static JsonObject Architecture(KerasModel m)
        {
            var root = JsonNode.Parse(m.ToJson())!;
            return new JsonObject { ["class_name"] = root["class_name"]!.DeepClone(), ["config"] = root["config"]!.DeepClone() };
        }
        var a = Architecture(actual);
        var e = Architecture(expected);
        e["config"]!["name"] = a["config"]!["name"]!.DeepClone();
        Assert.True(JsonNode.DeepEquals(e, a), $"The configs differ.\nexpected: {e.ToJsonString()}\nactual:   {a.ToJsonString()}");
    }

    /// <summary>
    /// Python's <c>compare_models</c>: <paramref name="actual"/> has <paramref name="expectedJson"/>'s config and, layer by
    /// layer, the weights of the same-named layer in <paramref name="sources"/> (the expected model is built from the
    /// same layer objects in Python).
    /// </summary>
    private static void AssertSameModel(KerasModel actual, string expectedJson, params KerasModel[] sources)
    {
        using var expected = KerasFile.CreateFromArchitecture(expectedJson);
        AssertSameConfig(expected, actual);
        foreach (var (layer, w) in expected.AllWeights())
            Set(expected, layer.Name, w.Name, W(sources.First(s => s.FindLayer(layer.Name) is not null), layer.Name, w.Name));
        Assert.Null(ModelComparison.FindDifference(expected, actual));
    }

    /// <summary>
    /// Beyond Python: the pruned model's outputs equal the original's with <paramref name="zeroed"/> channels forced to
    /// zero, on random inputs, and the surgery reports itself exact.
    /// </summary>
    private static void AssertPrunedEqualsMaskedOriginal(KerasModel original, SurgeryResult result, Dictionary<string, int[]> zeroed, string? what = null)
    {
        Assert.Empty(result.InexactLayers);
        var generator = new Generator(17);
        var inputs = original.Inputs.Select(i =>
        {
            var shape = Shapes.ShapeInference.InputShape(original[i.Layer].ConfigNode)!;
            var dims = shape.Select((d, k) => k == 0 ? 3L : d!.Value).ToArray();
            return rand(dims, generator: generator) * 2 - 1;
        }).ToArray();
        using var pruned = ModelRunner.Create(result.Model);
        using var masked = ModelRunner.Create(original, new RunOptions { ZeroedChannels = zeroed });
        var a = pruned.Predict(inputs);
        var b = masked.Predict(inputs);
        try
        {
            Assert.Equal(b.Count, a.Count);
            for (var i = 0; i < a.Count; i++) RecordedOutputTests.AssertClose(b[i], a[i], $"{what ?? "pruned model"}, output {i}");
        }
        finally
        {
            foreach (var t in a.Concat(b).Concat(inputs)) t.Dispose();
        }
    }

    /// <summary>
    /// Beyond Python, for model_3's fixed weights (whose huge activations make float comparisons meaningless): the
    /// same architecture with random weights, pruned the same way, equals its masked original.
    /// </summary>
    private static void AssertRandomizedCopyIsEquivalent(KerasModel model, string layer, int[] channels, int seed)
    {
        using var copy = KerasFile.CreateFromArchitecture(model.ToJson(), seed);
        ReferenceModels.Randomize(copy, seed);
        using var result = new ModelSurgeon(copy).DeleteChannels(layer, channels).Operate();
        AssertPrunedEqualsMaskedOriginal(copy, result, new() { [layer] = Wrap(channels, 3) });
    }
}
