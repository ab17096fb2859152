using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests.Identify;

/// <summary>Parameter and MAC counts per layer, checked against hand computation, before and after surgery.</summary>
public sealed class ModelCostTests
{
    [SkippableFact]
    public void LeNet_MacsAndParameters_MatchHandComputation_BeforeAndAfterSurgery()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        using var model = KerasFile.Load(fixture.Path);

        var cost = ModelCost.Of(model);
        using var pruned = new ModelSurgeon(model).DeleteChannels("conv2d_Conv2D1", new[] { 0, 1 }).Operate();
        var after = ModelCost.Of(pruned.Model);

        // conv1 24x24 positions x 5x5x1 x 6; conv2 8x8 x 5x5x6 x 16; dense 256 x 120; dense 120 x 10.
        Assert.Equal(24 * 24 * 25 * 6, cost.Layers.Single(l => l.Name == "conv2d_Conv2D1").Macs);
        Assert.Equal(8 * 8 * 25 * 6 * 16, cost.Layers.Single(l => l.Name == "conv2d_Conv2D2").Macs);
        Assert.Equal(86_400 + 153_600 + 30_720 + 1_200, cost.Macs);
        Assert.Equal(34_622, cost.Parameters);
        Assert.Equal(24 * 24 * 25 * 4 + 8 * 8 * 25 * 4 * 16 + 30_720 + 1_200, after.Macs);
        Assert.Equal(model.ParameterCount - 2 * (25 + 1) - 2 * 25 * 16, after.Parameters);
    }

    [Theory]
    [InlineData("Conv2D", """{"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same", "groups": 2}""", new long[] { 10, 10, 4 }, 5L * 5 * 9 * 2 * 8)]
    [InlineData("DepthwiseConv2D", """{"kernel_size": 3, "depth_multiplier": 2}""", new long[] { 6, 6, 3 }, 4L * 4 * 9 * 6)]
    [InlineData("SeparableConv2D", """{"filters": 5, "kernel_size": 3}""", new long[] { 6, 6, 3 }, 4L * 4 * (9 * 3 + 3 * 5))]
    [InlineData("Conv2DTranspose", """{"filters": 4, "kernel_size": 3, "strides": 2}""", new long[] { 5, 5, 2 }, 5L * 5 * 9 * 2 * 4)]
    [InlineData("LSTM", """{"units": 6}""", new long[] { 7, 3 }, 7L * 4 * 6 * (3 + 6))]
    [InlineData("GRU", """{"units": 4, "return_sequences": true}""", new long[] { 5, 2 }, 5L * 3 * 4 * (2 + 4))]
    [InlineData("Dense", """{"units": 3}""", new long[] { 5, 4 }, 5L * 4 * 3)]
    [InlineData("BatchNormalization", """{}""", new long[] { 5, 4 }, 0L)]
    public void Macs_PerLayerClass(string cls, string config, long[] inputShape, long expected)
    {
        var input = new JsonArray { null };
        foreach (var d in inputShape) input.Add(d);
        var layerConfig = JsonNode.Parse(config)!.AsObject();
        layerConfig["name"] = "l";
        var json = new JsonObject
        {
            ["class_name"] = "Sequential",
            ["config"] = new JsonObject
            {
                ["name"] = "m",
                ["layers"] = new JsonArray(
                    new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = input, ["name"] = "in" } },
                    new JsonObject { ["class_name"] = cls, ["config"] = layerConfig }),
            },
        }.ToJsonString();
        using var model = KerasFile.CreateFromArchitecture(json, seed: 1);

        Assert.Equal(expected, ModelCost.Of(model).Layers.Single(l => l.Name == "l").Macs);
    }

    [Fact]
    public void Macs_UnknownSequenceLength_IsNull_NotAGuess()
    {
        const string json = """
            {"class_name": "Sequential", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, null, 3], "name": "in"}},
              {"class_name": "LSTM", "config": {"name": "l", "units": 2}}]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 1);

        var cost = ModelCost.Of(model);

        Assert.Null(cost.Macs);
        Assert.Equal(model.ParameterCount, cost.Parameters);
        Assert.Contains("MACs per sample: ?", ModelSummary.Of(model).ToString());
    }
}
