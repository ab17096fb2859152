using System.Text.Json.Nodes;
using Surgeon.Tensors;

namespace Surgeon.Runtime.Tests.Infrastructure;

/// <summary>Assertions that compare two models exactly.</summary>
public static class ModelAssert
{
    /// <summary>class_name and config of model.to_json(): the architecture, without version metadata.</summary>
    private static JsonNode Architecture(KerasModel model)
    {
        var root = JsonNode.Parse(model.ToJson())!.AsObject();
        return new JsonObject { ["class_name"] = root["class_name"]!.DeepClone(), ["config"] = root["config"]!.DeepClone() };
    }

    /// <summary>Same architecture JSON (as parsed JSON trees) and bit-identical weights with the same dtypes and shapes.</summary>
    public static void Identical(KerasModel expected, KerasModel actual)
    {
        Assert.True(JsonNode.DeepEquals(Architecture(expected), Architecture(actual)),
            $"architecture JSON differs:\n{expected.ToJson()}\n---\n{actual.ToJson()}");
        var a = expected.AllWeights().ToList();
        var b = actual.AllWeights().ToList();
        Assert.Equal(a.Select(x => $"{x.Layer.Name}/{x.Weight.Name}"), b.Select(x => $"{x.Layer.Name}/{x.Weight.Name}"));
        for (var i = 0; i < a.Count; i++)
        {
            var (layer, w1) = a[i];
            var w2 = b[i].Weight;
            Assert.Equal(w1.Value.dtype, w2.Value.dtype);
            Assert.Equal(w1.Shape, w2.Shape);
            Assert.True(TensorBytes.ToArray(w1.Value).AsSpan().SequenceEqual(TensorBytes.ToArray(w2.Value)), $"weight {layer.Name}/{w1.Name} differs");
            Assert.Equal(w1.Trainable, w2.Trainable);
        }
        Assert.Equal(expected.ParameterCount, actual.ParameterCount);
        Assert.Equal(expected.TrainableParameterCount, actual.TrainableParameterCount);
    }
}
