using System.IO.Compression;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>Nested models, shared layers, multiple inputs and outputs survive load and save in both formats.</summary>
public sealed class GraphTests
{
    // A Functional model using a nested Sequential twice (a shared layer with two inbound nodes) on two inputs,
    // merged by a Concatenate, with two outputs. tf.keras 2 dialect: nested lists for inbound nodes.
    private const string SiameseJson = """
        {"class_name": "Functional", "config": {"name": "siamese", "layers": [
          {"class_name": "InputLayer", "name": "left", "config": {"batch_input_shape": [null, 8], "dtype": "float32", "name": "left"}, "inbound_nodes": []},
          {"class_name": "InputLayer", "name": "right", "config": {"batch_input_shape": [null, 8], "dtype": "float32", "name": "right"}, "inbound_nodes": []},
          {"class_name": "Sequential", "name": "tower", "config": {"name": "tower", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8], "dtype": "float32", "name": "tower_in"}},
              {"class_name": "Dense", "config": {"name": "tower_dense", "units": 5, "activation": "relu"}},
              {"class_name": "BatchNormalization", "config": {"name": "tower_bn", "axis": -1}}]},
           "inbound_nodes": [[["left", 0, 0, {}]], [["right", 0, 0, {}]]]},
          {"class_name": "Concatenate", "name": "merge", "config": {"name": "merge", "axis": -1}, "inbound_nodes": [[["tower", 1, 0, {}], ["tower", 2, 0, {}]]]},
          {"class_name": "Dense", "name": "score", "config": {"name": "score", "units": 1}, "inbound_nodes": [[["merge", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "aux", "config": {"name": "aux", "units": 3}, "inbound_nodes": [[["tower", 1, 0, {}]]]}],
          "input_layers": [["left", 0, 0], ["right", 0, 0]],
          "output_layers": [["score", 0, 0], ["aux", 0, 0]]}}
        """;

    [Fact]
    public void Parse_NestedSharedModel_BuildsGraph()
    {
        using var model = KerasFile.CreateFromArchitecture(SiameseJson, seed: 7);

        var tower = model["tower"];
        Assert.NotNull(tower.NestedModel);
        Assert.Equal(2, tower.InboundNodes.Count);
        Assert.Equal(new TensorRef("right"), tower.InboundNodes[1].Inputs[0]);
        Assert.Equal(new[] { new TensorRef("left"), new TensorRef("right") }, model.Inputs);
        Assert.Equal(2, model.Outputs.Count);
        // tower: dense 8*5+5, bn 4*5 (10 non-trainable); merge -> 10 features; score 10+1; aux 5*3+3
        Assert.Equal(45 + 20 + 11 + 18, model.ParameterCount);
        Assert.Equal(10, model.NonTrainableParameterCount);
        var summary = ModelSummary.Of(model);
        Assert.Equal("multiple", summary.Rows.Single(r => r.Name == "tower").OutputShape);
        Assert.Equal("(None, 10)", summary.Rows.Single(r => r.Name == "merge").OutputShape);
    }

    [Theory]
    [InlineData("m.h5")]
    [InlineData("m.keras")]
    public void Save_NestedSharedModel_ReloadsIdentically(string name)
    {
        using var model = KerasFile.CreateFromArchitecture(SiameseJson, seed: 7);
        using var dir = new TempDir();

        KerasFile.Save(model, dir.File(name));
        using var reloaded = KerasFile.Load(dir.File(name));

        if (name.EndsWith(".h5", StringComparison.Ordinal))
        {
            ModelAssert.Identical(model, reloaded);
        }
        else
        {
            // Converted to the Keras 3 dialect on the way: nested call numbering and shared nodes must survive.
            Assert.Equal(KerasDialect.Keras3, reloaded.Dialect);
            Assert.Null(ModelComparison.FindDifference(model, reloaded, ComparisonMode.Graph));
            Assert.Equal(2, reloaded["tower"].InboundNodes.Count);
            Assert.Equal(new TensorRef("tower", 1), reloaded["merge"].InboundNodes[0].Inputs[1]);
        }
    }

    [Fact]
    public void SaveKeras_NestedModel_UsesKeras3LayerPaths()
    {
        using var model = KerasFile.CreateFromArchitecture(SiameseJson, seed: 7);
        using var dir = new TempDir();
        var path = dir.File("m.keras");

        KerasFile.Save(model, path);

        using var zip = System.IO.Compression.ZipFile.OpenRead(path);
        zip.GetEntry("model.weights.h5")!.ExtractToFile(dir.File("w.h5"));
        var dump = H5Dump.AssertReadable(dir.File("w.h5"), "-H");
        // Keras 3 names groups by class and order: the nested Sequential is "sequential", its Dense "dense",
        // the outer Dense layers "dense" and "dense_1" in graph order; every layer gets a vars group.
        Assert.Contains("GROUP \"sequential\"", dump);
        Assert.Contains("GROUP \"batch_normalization\"", dump);
        Assert.Contains("GROUP \"dense_1\"", dump);
        Assert.Contains("GROUP \"concatenate\"", dump);
        Assert.Contains("GROUP \"input_layer_1\"", dump);
    }

    [Fact]
    public void ModelComparison_ChangedWeight_IsReported()
    {
        using var a = KerasFile.CreateFromArchitecture(SiameseJson, seed: 7);
        using var b = KerasFile.CreateFromArchitecture(SiameseJson, seed: 8);

        Assert.Equal("tower_dense/kernel has different values", ModelComparison.FindDifference(a, b));
    }
}
