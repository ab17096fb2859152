using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Jobs on some calls of a shared layer (keras-surgeon's node_indices, which its suite never tested and which broke
/// under tf.keras): the chosen calls change, the other calls keep the original layer and weights.
/// </summary>
public sealed class NodeIndicesTests
{
    // Dense 's' is shared: s(x1) is call 0, feeding 'a'; s(x2) is call 1, feeding 'b'. Outputs a and b.
    private const string Json = """
        {"class_name": "Functional", "config": {"name": "shared", "layers": [
          {"class_name": "InputLayer", "name": "x1", "config": {"batch_input_shape": [null, 4], "name": "x1"}, "inbound_nodes": []},
          {"class_name": "InputLayer", "name": "x2", "config": {"batch_input_shape": [null, 4], "name": "x2"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "s", "config": {"name": "s", "units": 3, "activation": "tanh"}, "inbound_nodes": [[["x1", 0, 0, {}]], [["x2", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["s", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 2}, "inbound_nodes": [[["s", 1, 0, {}]]]}],
          "input_layers": [["x1", 0, 0], ["x2", 0, 0]], "output_layers": [["a", 0, 0], ["b", 0, 0]]}}
        """;

    private static KerasModel Create()
    {
        var model = KerasFile.CreateFromArchitecture(Json, seed: 21);
        ReferenceModels.Randomize(model, 22);
        return model;
    }

    private static IReadOnlyList<Tensor> Run(KerasModel model, int features = 4)
    {
        using var runner = ModelRunner.Create(model);
        var generator = new Generator(23);
        return runner.Predict(new[] { rand(new long[] { 3, features }, generator: generator), rand(new long[] { 3, features }, generator: generator) });
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what) => RecordedOutputTests.AssertClose(expected, actual, what);

    [Fact]
    public void DeleteChannels_OnOneCall_PrunesACopyAndLeavesTheOtherCall()
    {
        using var model = Create();

        using var result = new ModelSurgeon(model).DeleteChannels("s", new[] { 1 }, nodeIndices: new[] { 1 }).Operate();

        var pruned = result.Model;
        Assert.Single(pruned["s"].InboundNodes);
        Assert.Equal(3, pruned["s"].Config.GetProperty("units").GetInt32());
        Assert.Equal(2, pruned["s_delete_channels"].Config.GetProperty("units").GetInt32());
        Assert.Equal("x2", pruned["s_delete_channels"].InboundNodes[0].Inputs[0].Layer);
        Assert.Equal(new TensorRef("s_delete_channels", 0, 0), pruned["b"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new[] { 1 }, result.DeletedChannels["s_delete_channels"]);
        // Output a is untouched; output b equals the original with channel 1 of s zeroed (tanh(0) = 0 is exact).
        using var zeroed = Create();
        using (no_grad())
        {
            zeroed["s"].FindWeight("kernel")!.Value[.., 1] = 0;
            zeroed["s"].FindWeight("bias")!.Value[1] = 0;
        }
        var original = Run(model);
        var expectedB = Run(zeroed);
        var actual = Run(pruned);
        Assert.True(original[0].eq(actual[0]).all().item<bool>());
        AssertClose(expectedB[1], actual[1], "output b");
        Assert.Throws<SurgeonException>(() => result.MaxDifference(model));
    }

    [Theory]
    [InlineData(".h5")]
    [InlineData(".keras")]
    public void DeleteChannels_OnOneCall_SavesAndReloads(string extension)
    {
        using var model = Create();
        using var result = new ModelSurgeon(model).DeleteChannels("s", new[] { 0, 2 }, nodeIndices: new[] { 0 }).Operate();
        using var dir = new TempDir();

        KerasFile.Save(result.Model, dir.File("m" + extension));
        using var reloaded = KerasFile.Load(dir.File("m" + extension));

        var a = Run(result.Model);
        var b = Run(reloaded);
        Assert.True(a[0].eq(b[0]).all().item<bool>() && a[1].eq(b[1]).all().item<bool>());
        Assert.Equal(1, reloaded["s_delete_channels"].Config.GetProperty("units").GetInt32());
    }

    [Fact]
    public void InsertAfter_OneCall_KeepsTheLayerShared()
    {
        using var model = Create();

        using var result = new ModelSurgeon(model).InsertLayerAfter("s", LayerSpec.Activation("relu", name: "act"), nodeIndices: new[] { 0 }).Operate();

        Assert.Equal(2, result.Model["s"].InboundNodes.Count);
        Assert.Equal(new TensorRef("act", 0, 0), result.Model["a"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new TensorRef("s", 1, 0), result.Model["b"].InboundNodes[0].Inputs[0]);
        var before = Run(model);
        var after = Run(result.Model);
        Assert.True(before[1].eq(after[1]).all().item<bool>());
    }

    [Fact]
    public void InsertBefore_OneCall_ChangesOnlyThatCallsInput()
    {
        using var model = Create();

        using var result = new ModelSurgeon(model).InsertLayerBefore("s", LayerSpec.Dropout(0.5, name: "drop"), nodeIndices: new[] { 1 }).Operate();

        Assert.Equal("x1", result.Model["s"].InboundNodes[0].Inputs[0].Layer);
        Assert.Equal(new TensorRef("drop", 0, 0), result.Model["s"].InboundNodes[1].Inputs[0]);
        Assert.Equal("x2", result.Model["drop"].InboundNodes[0].Inputs[0].Layer);
        var before = Run(model);
        var after = Run(result.Model);
        Assert.True(before[0].eq(after[0]).all().item<bool>() && before[1].eq(after[1]).all().item<bool>()); // Dropout is inert at inference
    }

    [Fact]
    public void ReplaceAndDelete_OneCall_LeaveTheOtherCallWithTheOriginalLayer()
    {
        using var model = Create();
        const string Chain = """
            {"class_name": "Functional", "config": {"name": "chain", "layers": [
              {"class_name": "InputLayer", "name": "x1", "config": {"batch_input_shape": [null, 3], "name": "x1"}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "x2", "config": {"batch_input_shape": [null, 3], "name": "x2"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "s", "config": {"name": "s", "units": 3}, "inbound_nodes": [[["x1", 0, 0, {}]], [["x2", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["s", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 2}, "inbound_nodes": [[["s", 1, 0, {}]]]}],
              "input_layers": [["x1", 0, 0], ["x2", 0, 0]], "output_layers": [["a", 0, 0], ["b", 0, 0]]}}
            """;
        using var chain = KerasFile.CreateFromArchitecture(Chain, seed: 3);

        using var replaced = new ModelSurgeon(model).ReplaceLayer("s", LayerSpec.Dense(3, name: "s2", activation: "tanh"), nodeIndices: new[] { 1 }).Operate();
        using var deleted = new ModelSurgeon(chain).DeleteLayer("s", nodeIndices: new[] { 0 }).Operate();

        Assert.Single(replaced.Model["s"].InboundNodes);
        Assert.Equal("x2", replaced.Model["s2"].InboundNodes[0].Inputs[0].Layer);
        Assert.Equal(new TensorRef("s2", 0, 0), replaced.Model["b"].InboundNodes[0].Inputs[0]);
        Assert.Null(replaced.Model.FindLayer("s_replaced"));
        Assert.Equal(new TensorRef("x1", 0, 0), deleted.Model["a"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new TensorRef("s", 0, 0), deleted.Model["b"].InboundNodes[0].Inputs[0]);
        Assert.Single(deleted.Model["s"].InboundNodes);
        // Output b still goes through s; output a now reads x1 directly.
        var before = Run(chain, 3);
        var after = Run(deleted.Model, 3);
        Assert.True(before[1].eq(after[1]).all().item<bool>());
        Assert.False(before[0].eq(after[0]).all().item<bool>());
    }

    [Theory]
    [InlineData(new[] { 2 }, "node index(es) 2 out of range; the layer is called 2 time(s)")]
    [InlineData(new[] { 1, 1 }, "node index(es) 1 given more than once")]
    public void NodeIndices_Invalid_FailWhenAdded(int[] nodes, string message)
    {
        using var model = Create();

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("s", new[] { 0 }, nodes));

        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TwoJobsOnOneCall_Fail_ButJobsOnDifferentCallsCombine()
    {
        using var model = Create();
        var surgeon = new ModelSurgeon(model).DeleteChannels("s", new[] { 0 }, nodeIndices: new[] { 0 });

        var e = Assert.Throws<SurgeonException>(() => surgeon.DeleteLayer("s"));
        using var result = surgeon.InsertLayerAfter("s", LayerSpec.Activation("relu", name: "act"), nodeIndices: new[] { 1 }).Operate();

        Assert.Contains("already has a job on call(s) 0", e.Message);
        Assert.Equal(2, result.Model["s_delete_channels"].Config.GetProperty("units").GetInt32());
        Assert.Equal(new TensorRef("act", 0, 0), result.Model["b"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new TensorRef("s", 0, 0), result.Model["act"].InboundNodes[0].Inputs[0]);
    }
}
