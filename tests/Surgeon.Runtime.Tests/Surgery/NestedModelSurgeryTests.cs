using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// A model with a nested model used as a layer: surgery on the outer layers carries the nested model unchanged (its
/// weights copied, the input model untouched); a deletion that would reach into it is refused naming it.
/// </summary>
public sealed class NestedModelSurgeryTests
{
    // x -> pre (Dense 4) -> tower (Sequential: d1 Dense 3) -> head (Dense 2)
    private const string Json = """
        {"class_name": "Functional", "config": {"name": "outer", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "pre", "config": {"name": "pre", "units": 4, "activation": "tanh"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Sequential", "name": "tower", "config": {"name": "tower", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "tower_in"}},
              {"class_name": "Dense", "config": {"name": "d1", "units": 3, "activation": "relu"}}]},
           "inbound_nodes": [[["pre", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "head", "config": {"name": "head", "units": 2}, "inbound_nodes": [[["tower", 1, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["head", 0, 0]]}}
        """;

    [Theory]
    [InlineData(".h5")]
    [InlineData(".keras")]
    public void InsertAndReplace_AroundANestedModel_CarryItUnchanged(string extension)
    {
        using var model = KerasFile.CreateFromArchitecture(Json, seed: 51);
        using var dir = new TempDir();
        var identity = new Dictionary<string, Tensor> { ["kernel"] = eye(2), ["bias"] = zeros(2) };

        using var result = new ModelSurgeon(model)
            .InsertLayerAfter("head", new LayerSpec("Dense", new System.Text.Json.Nodes.JsonObject { ["units"] = 2 }) { Name = "same", Weights = identity })
            .Operate();
        KerasFile.Save(result.Model, dir.File("n" + extension));
        using var reloaded = KerasFile.Load(dir.File("n" + extension));

        var d1 = result.Model["tower"].NestedModel!["d1"].FindWeight("kernel")!.Value;
        Assert.True(d1.eq(model["tower"].NestedModel!["d1"].FindWeight("kernel")!.Value).all().item<bool>());
        Assert.False(ReferenceEquals(d1, model["tower"].NestedModel!["d1"].FindWeight("kernel")!.Value));
        using var x = rand(3, 4);
        using var a = ModelRunner.Create(model);
        using var b = ModelRunner.Create(reloaded);
        using var ya = a.Predict(x);
        using var yb = b.Predict(x);
        Assert.True((ya - yb).abs().max().item<float>() <= 1e-6);
    }

    [Fact]
    public void DeleteChannels_ReachingANestedModel_IsRefusedNamingIt()
    {
        using var model = KerasFile.CreateFromArchitecture(Json, seed: 52);

        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).DeleteChannels("pre", new[] { 1 }).Operate());

        Assert.Contains("'tower'", e.Message);
    }
}
