using System.Text.Json.Nodes;

namespace Surgeon.Runtime.Tests.Infrastructure;

/// <summary>Small Keras architectures written as JSON for tests.</summary>
public static class TestModels
{
    /// <summary>
    /// A Sequential model with an InputLayer of <paramref name="inputShape"/> (batch excluded) and the given layers,
    /// named <c>l0</c>, <c>l1</c>, ... in order.
    /// </summary>
    public static string Sequential(long[] inputShape, params (string Class, JsonObject Config)[] layers)
    {
        var input = new JsonArray { null };
        foreach (var d in inputShape) input.Add(d);
        var list = new JsonArray { new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = input, ["name"] = "in" } } };
        for (var i = 0; i < layers.Length; i++)
        {
            layers[i].Config["name"] = $"l{i}";
            list.Add(new JsonObject { ["class_name"] = layers[i].Class, ["config"] = layers[i].Config });
        }
        return new JsonObject { ["class_name"] = "Sequential", ["config"] = new JsonObject { ["name"] = "s", ["layers"] = list } }.ToJsonString();
    }
}
