using Surgeon.Runtime.Tests.Forward;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// MultiHeadAttention as a consumer (keras-surgeon refused every attention layer): the query, key and value projections
/// drop the deleted features' rows and absorb their constants, and the output keeps its size.
/// </summary>
public sealed class AttentionConsumerTests
{
    // x (5, 6) -> p (Dense 8, relu) -> q (Dense 4) ; mha(query=q, value=p) -> gap -> out (Dense 2)
    private const string Json = """
        {"class_name": "Functional", "config": {"name": "att", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 5, 6], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "p", "config": {"name": "p", "units": 8, "activation": "relu"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "q", "config": {"name": "q", "units": 4, "activation": "sigmoid"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "MultiHeadAttention", "name": "mha", "config": {"name": "mha", "num_heads": 2, "key_dim": 3, "value_dim": null, "dropout": 0.0, "use_bias": true, "output_shape": null, "attention_axes": null},
           "inbound_nodes": [[["q", 0, 0, {"value": ["p", 0, 0]}]]]},
          {"class_name": "GlobalAveragePooling1D", "name": "gap", "config": {"name": "gap"}, "inbound_nodes": [[["mha", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2}, "inbound_nodes": [[["gap", 0, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}}
        """;

    [Theory]
    [InlineData("p", new[] { 1, 4, 7 })]
    [InlineData("q", new[] { 2 })]
    public void DeleteChannels_IntoAttention_StaysExactAndReloads(string target, int[] channels)
    {
        using var model = KerasFile.CreateFromArchitecture(Json, seed: 31);
        ReferenceModels.Randomize(model, 32);
        using var dir = new TempDir();

        using var result = new ModelSurgeon(model).DeleteChannels(target, channels).Operate();

        var features = target == "p" ? 5 : 3;
        var projections = target == "p" ? new[] { "value/kernel", "key/kernel" } : new[] { "query/kernel" };
        foreach (var w in projections) Assert.Equal(new long[] { features, 2, 3 }, result.Model["mha"].FindWeight(w)!.Value.shape);
        // A query that loses features keeps the attention output at its old width (output_shape written out).
        Assert.Equal(new long[] { 2, 3, 4 }, result.Model["mha"].FindWeight("attention_output/kernel")!.Value.shape);
        Assert.Empty(result.InexactLayers);
        Assert.True(result.MaxDifference(model) <= 1e-5, $"max |diff| {result.MaxDifference(model)}");
        foreach (var extension in new[] { ".h5", ".keras" })
        {
            KerasFile.Save(result.Model, dir.File("a" + extension));
            using var reloaded = KerasFile.Load(dir.File("a" + extension));
            using var x = rand(new long[] { 2, 5, 6 }, generator: new Generator(33));
            using var a = ModelRunner.Create(result.Model);
            using var b = ModelRunner.Create(reloaded);
            using var ya = a.Predict(x);
            using var yb = b.Predict(x);
            Assert.True(ya.eq(yb).all().item<bool>(), extension);
        }
    }
}
