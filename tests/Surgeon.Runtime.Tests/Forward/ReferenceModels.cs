using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>Builds one-layer models from a layer config and runs them, for comparisons with hand-written references.</summary>
internal static class ReferenceModels
{
    /// <summary>A Functional model: InputLayer(shape) -> layer(className, config); weights initialised from <paramref name="seed"/>.</summary>
    public static KerasModel Single(string className, JsonObject config, long[] inputShape, long seed = 3)
    {
        config["name"] = "layer";
        var shape = new JsonArray { null };
        foreach (var d in inputShape) shape.Add(d);
        var json = new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = "m",
                ["layers"] = new JsonArray
                {
                    new JsonObject { ["class_name"] = "InputLayer", ["name"] = "in", ["config"] = new JsonObject { ["batch_input_shape"] = shape, ["name"] = "in" }, ["inbound_nodes"] = new JsonArray() },
                    new JsonObject { ["class_name"] = className, ["name"] = "layer", ["config"] = config, ["inbound_nodes"] = new JsonArray(new JsonArray(new JsonArray("in", 0, 0, new JsonObject()))) },
                },
                ["input_layers"] = new JsonArray(new JsonArray("in", 0, 0)),
                ["output_layers"] = new JsonArray(new JsonArray("layer", 0, 0)),
            },
        };
        return KerasFile.CreateFromArchitecture(json.ToJsonString(), seed);
    }

    /// <summary>Random non-trivial weights (replacing zero biases and unit BN statistics) so references test every term.</summary>
    public static void Randomize(KerasModel model, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, w) in model.AllWeights())
        {
            using var r = rand(w.Value.shape, generator: generator);
            w.Value.copy_(w.Name.Contains("variance", StringComparison.Ordinal) ? r + 0.5 : r * 2 - 1);
        }
    }

    /// <summary>Runs the model on <paramref name="x"/> and returns the output as a flat float array with its shape.</summary>
    public static (float[] Values, long[] Shape) Run(KerasModel model, Tensor x)
    {
        using var runner = ModelRunner.Create(model);
        using var y = runner.Predict(x);
        using var cpu = y.contiguous().cpu();
        return (cpu.data<float>().ToArray(), cpu.shape);
    }

    public static float[] Values(Tensor t)
    {
        using var c = t.contiguous().cpu();
        return c.data<float>().ToArray();
    }

    public static void AssertClose(float[] expected, float[] actual, string what, double atol = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= atol + 1e-4 * Math.Abs(expected[i]),
                $"{what}: element {i} is {actual[i]}, reference {expected[i]}");
        }
    }
}
