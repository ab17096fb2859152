using System.Text.Json;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>
/// Parameter counts and output shapes as Keras's <c>model.summary()</c> reports them. Expected values are worked
/// out by hand from the architectures (Conv2D: kh*kw*in*out + out; Dense: in*out + out; BatchNormalization: 4*C of
/// which 2*C, the moving statistics, are non-trainable).
/// </summary>
public sealed class SummaryTests
{
    [SkippableTheory]
    // LeNet: 5*5*1*6+6 + 5*5*6*16+16 + 256*120+120 + 120*10+10
    [InlineData("oracle/lenet", 34_622, 34_622)]
    // conv 3*3*3*1+1, BN 4*1 (2 moving stats), conv 3*3*1*1+1, dense 36*1+1
    [InlineData("real/dl4j-test-resources/src/main/resources/modelimport/keras/fullconfigs/cnn/cnn_batch_norm.h5", 79, 77)]
    // conv 3*3*1*32+32, conv 3*3*32*64+64, five convs 3*3*64*64+64, dense 64*256+256, dense 256*10+10
    [InlineData("real/kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json", 222_666, 222_666)]
    // Keras 3 LSTM(1) on 2 features: kernel 2*4 + recurrent 1*4 + bias 4
    [InlineData("real/keras/model.keras", 16, 16)]
    public void Summary_KnownModels_CountsParametersLikeKeras(string id, long total, long trainable)
    {
        var fixture = SharedFixtures.Model(id);
        using var model = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });

        var summary = ModelSummary.Of(model);

        Assert.Equal(total, summary.TotalParameters);
        Assert.Equal(trainable, summary.TrainableParameters);
        Assert.Equal(total - trainable, summary.NonTrainableParameters);
        Assert.Equal(total, summary.Rows.Sum(r => r.Parameters));
        var text = summary.ToString();
        Assert.Contains($"Total params: {total:N0}", text);
        Assert.Contains($"Non-trainable params: {total - trainable:N0}", text);
    }

    [SkippableFact]
    public void Summary_LeNet_InfersKerasOutputShapes()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        using var model = KerasFile.Load(fixture.Path);

        var rows = ModelSummary.Of(model).Rows;

        // 28x28x1 -> conv5 valid -> 24x24x6 -> pool2 -> 12x12x6 -> conv5 -> 8x8x16 -> pool2 -> 4x4x16 -> 256
        Assert.Equal(new[] { "(None, 24, 24, 6)", "(None, 12, 12, 6)", "(None, 8, 8, 16)", "(None, 4, 4, 16)", "(None, 256)", "(None, 120)", "(None, 120)", "(None, 10)" },
            rows.Select(r => r.OutputShape));
    }

    [SkippableFact]
    public void Summary_FunctionalModel_ListsConnectionsAndInputLayer()
    {
        var fixture = SharedFixtures.Model("real/kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json");
        using var model = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });

        var summary = ModelSummary.Of(model);

        Assert.Equal("InputLayer", summary.Rows[0].ClassName);
        var add = summary.Rows.First(r => r.Name == "add_8");
        Assert.Equal(new[] { "conv2d_37[0][0]", "max_pooling2d_5[0][0]" }, add.ConnectedTo);
        Assert.Equal("(None, 8, 8, 64)", add.OutputShape);
        Assert.Contains("Connected to", summary.ToString());
    }

    [Fact]
    public void Summary_FrozenLayer_CountsItsWeightsAsNonTrainable()
    {
        // Arrange: Dense(3) on 4 inputs (12+3) frozen, then Dense(2) (6+2) trainable.
        const string json = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},
              {"class_name": "Dense", "config": {"name": "frozen", "units": 3, "trainable": false}},
              {"class_name": "Dense", "config": {"name": "head", "units": 2}}]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 1);

        // Act
        var summary = ModelSummary.Of(model);

        // Assert
        Assert.Equal(23, summary.TotalParameters);
        Assert.Equal(8, summary.TrainableParameters);
        Assert.Equal(15, summary.NonTrainableParameters);
    }

    [SkippableFact]
    public void SummaryJson_LeNet_HasLayersAndTotals()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        using var model = KerasFile.Load(fixture.Path);

        using var doc = JsonDocument.Parse(ModelSummary.Of(model).ToJson());

        var root = doc.RootElement;
        Assert.Equal(34_622, root.GetProperty("total_parameters").GetInt64());
        Assert.Equal(0, root.GetProperty("non_trainable_parameters").GetInt64());
        var first = root.GetProperty("layers")[0];
        Assert.Equal("conv2d_Conv2D1", first.GetProperty("name").GetString());
        Assert.Equal("Conv2D", first.GetProperty("class_name").GetString());
        Assert.Equal("(None, 24, 24, 6)", first.GetProperty("output_shape").GetString());
        Assert.Equal(156, first.GetProperty("parameters").GetInt64());
        Assert.Equal(JsonValueKind.Array, first.GetProperty("connected_to").ValueKind);
    }
}

/// <summary>Architecture JSON that parses but cannot be built gets a clear error naming the layer.</summary>
public sealed class CreateFromArchitectureTests
{
    [Theory]
    [InlineData("\"units\": null", "dense")]
    [InlineData("\"units\": 3, \"kernel_initializer\": {\"class_name\": \"NoSuchInit\"}", "NoSuchInit")]
    public void Create_MalformedLayer_ThrowsNamingLayer(string denseConfig, string expected)
    {
        var json = $$$"""
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},
              {"class_name": "Dense", "config": {"name": "dense", {{{denseConfig}}}}}]}}
            """;

        var e = Assert.ThrowsAny<SurgeonException>(() => KerasFile.CreateFromArchitecture(json));

        Assert.Contains(expected, e.Message);
    }
}
