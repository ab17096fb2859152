using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>DeleteLayer: consumers take the deleted layer's input; shape changes are refused naming the layer.</summary>
public sealed class DeleteLayerTests
{
    [SkippableFact]
    public void DeleteLayer_Dropout_LeavesOutputsUnchanged()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
        using var input = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet", "input.npy"));

        using var result = new ModelSurgeon(model).DeleteLayer("dropout_Dropout1").Operate();

        Assert.Null(result.Model.FindLayer("dropout_Dropout1"));
        Assert.NotNull(model.FindLayer("dropout_Dropout1"));
        using var a = ModelRunner.Create(model);
        using var b = ModelRunner.Create(result.Model);
        using var ya = a.Predict(input);
        using var yb = b.Predict(input);
        RecordedOutputTests.AssertClose(ya, yb, "without dropout");
    }

    [Fact]
    public void DeleteLayer_ModelOutput_HandsTheOutputToItsInputAndSaves()
    {
        const string json = """
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 4}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Activation", "name": "act", "config": {"name": "act", "activation": "softmax"}, "inbound_nodes": [[["d", 0, 0, {}]]]}],
              "input_layers": [["x", 0, 0]], "output_layers": [["act", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 1);
        using var dir = new TempDir();

        using var result = new ModelSurgeon(model).DeleteLayer("act").Operate();
        KerasFile.Save(result.Model, dir.File("m.h5"));
        using var reloaded = KerasFile.Load(dir.File("m.h5"));

        Assert.Equal(new[] { new TensorRef("d") }, reloaded.Outputs);
        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteLayer("act").DeleteLayer("d").Operate());
        Assert.Contains("would make model input 'x' a model output", e.Message);
    }

    [SkippableFact]
    public void DeleteLayer_ResidualConv_RewiresConsumersAndSavesInKerasDialect()
    {
        var fixture = SharedFixtures.Model("real/kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json");
        using var model = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });
        using var dir = new TempDir();

        // conv2d_39 (64 -> 64, 'same') feeds add_9; after deletion add_9 takes conv2d_38 directly.
        using var result = new ModelSurgeon(model).DeleteLayer("conv2d_39").Operate();
        KerasFile.Save(result.Model, dir.File("d.h5"));
        using var reloaded = KerasFile.Load(dir.File("d.h5"));

        Assert.Equal(new TensorRef("conv2d_38"), reloaded["add_9"].InboundNodes[0].Inputs[0]);
        Assert.Null(reloaded.FindLayer("conv2d_39"));
        Assert.Equal(model.ParameterCount - 36_928, reloaded.ParameterCount);
        using var runner = ModelRunner.Create(reloaded);
        using var x = TorchSharp.torch.rand(2, 28, 28, 1);
        using var y = runner.Predict(x);
        Assert.Equal(new long[] { 2, 10 }, y.shape);
    }

    [SkippableFact]
    public void DeleteLayer_ShapeChangingLayer_IsRefusedNamingShapes()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteLayer("dense_Dense1").Operate());

        Assert.Contains("'dense_Dense1'", e.Message);
        Assert.Contains("(None, 256) to (None, 120)", e.Message);
    }

    [SkippableFact]
    public void DeleteLayer_WithChannelDeletion_AppliesBoth()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));

        using var result = new ModelSurgeon(model).DeleteChannels("dense_Dense1", new[] { 0, 1 }).DeleteLayer("dropout_Dropout1").Operate();

        Assert.Equal(118, result.Model["dense_Dense1"].Config.GetProperty("units").GetInt32());
        Assert.Null(result.Model.FindLayer("dropout_Dropout1"));
        Assert.Equal(new long[] { 118, 10 }, result.Model["dense_Dense2"].FindWeight("kernel")!.Shape);
    }
}
