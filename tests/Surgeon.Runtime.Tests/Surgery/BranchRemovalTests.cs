using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Deleting every channel of a layer removes its branch (keras-surgeon 0.1.0's behaviour, with its gaps closed): the
/// layers fed only by the branch go, a Concatenate loses the input or is bypassed, and the consumers absorb the
/// constants the dead branch still carried in the masked original, so the result stays exact.
/// </summary>
public sealed class BranchRemovalTests
{
    // x -> a (Conv 2) -> a2 (Conv 1x1, 4, relu, biased) ┐
    // x -> b (Conv 3) ─────────────────────────────────┼-> cat -> flat -> out (Dense 2)
    // x -> c (Conv 2, only in the three-way model) ─────┘
    private static string Model(bool threeWay) => """
        {"class_name": "Functional", "config": {"name": "branches", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 6, 6, 2], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Conv2D", "name": "a", "config": {"name": "a", "filters": 2, "kernel_size": 3}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Conv2D", "name": "a2", "config": {"name": "a2", "filters": 4, "kernel_size": 1, "activation": "relu"}, "inbound_nodes": [[["a", 0, 0, {}]]]},
          {"class_name": "Conv2D", "name": "b", "config": {"name": "b", "filters": 3, "kernel_size": 3}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          C_LAYER
          {"class_name": "Concatenate", "name": "cat", "config": {"name": "cat", "axis": -1}, "inbound_nodes": [[["a2", 0, 0, {}], ["b", 0, 0, {}]C_INPUT]]},
          {"class_name": "Flatten", "name": "flat", "config": {"name": "flat"}, "inbound_nodes": [[["cat", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["flat", 0, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}
        """
        .Replace("C_LAYER", threeWay ? """{"class_name": "Conv2D", "name": "c", "config": {"name": "c", "filters": 2, "kernel_size": 3, "activation": "tanh"}, "inbound_nodes": [[["x", 0, 0, {}]]]},""" : "", StringComparison.Ordinal)
        .Replace("C_INPUT", threeWay ? """, ["c", 0, 0, {}]""" : "", StringComparison.Ordinal);

    private static KerasModel Load(string json)
    {
        var model = KerasFile.CreateFromArchitecture(json, seed: 3);
        ReferenceModels.Randomize(model, 4);
        return model;
    }

    [Theory]
    [InlineData(false, new[] { 0, 1 })]
    [InlineData(false, new[] { 1, -2 })]
    [InlineData(true, new[] { 0, 1 })]
    public void DeleteAllChannels_RemovesTheBranchAndStaysExact(bool threeWay, int[] channels)
    {
        using var model = Load(Model(threeWay));

        using var result = new ModelSurgeon(model).DeleteChannels("a", channels).Operate();

        var removed = threeWay ? new[] { "a", "a2" } : new[] { "a", "a2", "cat" };
        Assert.Equal(removed, result.RemovedLayers);
        Assert.All(removed, r => Assert.Null(result.Model.FindLayer(r)));
        // The Dense lost the rows of a2's 4 channels at each of the 4x4 positions (a2's relu(bias) folded into its bias).
        Assert.Equal(new long[] { 4 * 4 * (threeWay ? 5 : 3), 2 }, result.Model["out"].FindWeight("kernel")!.Value.shape);
        Assert.Equal(threeWay ? "cat" : "b", result.Model["flat"].InboundNodes[0].Inputs[0].Layer);
        if (threeWay) Assert.Equal(new[] { "b", "c" }, result.Model["cat"].InboundNodes[0].Inputs.Select(i => i.Layer));
        Assert.Empty(result.InexactLayers);
        Assert.True(result.MaxDifference(model) <= 1e-5, $"max |diff| {result.MaxDifference(model)}");
        Assert.NotNull(model.FindLayer("a2")); // the input model is untouched
    }

    [Theory]
    [InlineData(".h5")]
    [InlineData(".keras")]
    public void DeleteAllChannels_SavedModelReloadsWithTheSameOutputs(string extension)
    {
        using var model = Load(Model(threeWay: false));
        using var result = new ModelSurgeon(model).DeleteChannels("a", new[] { 0, 1 }).Operate();
        using var dir = new TempDir();
        var path = dir.File("pruned" + extension);

        KerasFile.Save(result.Model, path);
        using var reloaded = KerasFile.Load(path);

        Assert.Equal(new[] { "x", "b", "flat", "out" }, reloaded.Layers.Select(l => l.Name));
        using var x = rand(new long[] { 2, 6, 6, 2 }, generator: new Generator(5));
        using var a = ModelRunner.Create(result.Model);
        using var b = ModelRunner.Create(reloaded);
        using var ya = a.Predict(x);
        using var yb = b.Predict(x);
        Assert.True(ya.eq(yb).all().item<bool>());
    }

    [SkippableFact]
    public void DeleteAllChannels_OracleFunctionalMix_BypassesItsConcatenate_AndReloads()
    {
        // The TF.js oracle's functional_mix: concat joins the residual add_res and the 1x1 conv_1x1 branch.
        var fixture = SharedFixtures.Model("oracle/functional_mix");
        using var model = KerasFile.Load(fixture.Path);
        using var dir = new TempDir();

        using var result = new ModelSurgeon(model).DeleteChannels("conv_1x1", new[] { 0, 1, 2, 3 }).Operate();
        KerasFile.Save(result.Model, dir.File("mix.h5"));
        KerasFile.Save(result.Model, dir.File("mix.keras"));
        using var fromH5 = KerasFile.Load(dir.File("mix.h5"));
        using var fromKeras = KerasFile.Load(dir.File("mix.keras"));

        Assert.Equal(new[] { "concat", "conv_1x1" }, result.RemovedLayers);
        Assert.Equal("add_res", fromKeras["avgpool"].InboundNodes[0].Inputs[0].Layer);
        Assert.Equal(new long[] { 8, 5 }, fromKeras["predictions"].FindWeight("kernel")!.Value.shape);
        Assert.True(result.MaxDifference(model) <= 1e-5, $"max |diff| {result.MaxDifference(model)}");
        Assert.Null(ModelComparison.FindDifference(result.Model, fromH5));
        using var x = rand(new long[] { 2, 16, 16, 3 }, generator: new Generator(9));
        using var a = ModelRunner.Create(result.Model);
        using var b = ModelRunner.Create(fromKeras);
        using var ya = a.Predict(x);
        using var yb = b.Predict(x);
        Assert.True(ya.eq(yb).all().item<bool>());
    }

    [Fact]
    public void DeleteAllChannels_FromTheWholeModelOutput_FailsWhenAdded()
    {
        using var model = Load(Model(threeWay: false));

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("out", new[] { 0, 1 }));

        Assert.Contains("would remove model output 'out'", e.Message);
    }

    [Fact]
    public void DeleteAllChannels_IntoAnAdd_FailsWhenAddedNamingTheMerge()
    {
        const string json = """
            {"class_name": "Functional", "config": {"name": "res", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 3}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 3}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["add", 0, 0, {}]]]}],
              "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}
            """;
        using var model = Load(json);

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("a", new[] { 0, 1, 2 }));

        Assert.Contains("layer 'add' (Add) needs that input", e.Message);
    }

    [Fact]
    public void NegativeIndices_CountFromTheEnd_AndTheirDuplicatesAreNamed()
    {
        using var model = Load(Model(threeWay: false));

        using var result = new ModelSurgeon(model).DeleteChannels("b", new[] { -1 }).Operate();
        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("b", new[] { 2, -1 }));
        var range = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("b", new[] { -4 }));

        Assert.Equal(new[] { 2 }, result.DeletedChannels["b"]);
        Assert.Contains("2 (as 2 and -1) given more than once", e.Message);
        Assert.Contains("-4 out of range", range.Message);
    }
}
