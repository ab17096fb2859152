using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Forward;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Property: for 1000 random models and channel sets (seeded, reproducible), the pruned model's output equals the
/// original's with the deleted channels zeroed, to 1e-5. Models mix convolutions, BatchNormalization, activations,
/// pooling, dropout, Flatten or global pooling, dense layers and residual Adds, so constants from BatchNormalization
/// and biases are folded and coupled groups form.
/// </summary>
public sealed class DeleteChannelsPropertyTests
{
    private const int Cases = 1000;

    [Fact]
    public void DeleteChannels_1000RandomModels_EqualMaskedOriginal()
    {
        var random = new Random(20261126);
        var worst = 0.0;
        for (var i = 0; i < Cases; i++)
        {
            var (json, targets) = RandomModel(random);
            using var model = KerasFile.CreateFromArchitecture(json, seed: i);
            RandomizeBiasesAndStatistics(model, i);
            var target = targets[random.Next(targets.Count)];
            var count = ChannelDeletion.ChannelCount(model[target])!.Value;
            var channels = Enumerable.Range(0, count).OrderBy(_ => random.Next()).Take(random.Next(1, count)).ToArray();

            using var result = new ModelSurgeon(model).DeleteChannels(target, channels).Operate();

            Assert.Empty(result.InexactLayers);
            var difference = result.MaxDifference(model, batch: 2, seed: i);
            worst = Math.Max(worst, difference);
            Assert.True(difference <= 1e-5, $"case {i}: deleting {string.Join(",", channels)} of '{target}' differs by {difference}\n{json}");
        }
        Assert.True(worst <= 1e-5);
    }

    /// <summary>
    /// Kernels keep their Glorot initialisation (activations of realistic size); biases and BatchNormalization
    /// parameters get random values so that deleted channels carry non-zero constants.
    /// </summary>
    private static void RandomizeBiasesAndStatistics(KerasModel model, int seed)
    {
        var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, w) in model.AllWeights().Where(x => !x.Weight.Name.Contains("kernel", StringComparison.Ordinal)))
        {
            using var r = rand(w.Value.shape, generator: generator);
            w.Value.copy_(w.Name.Contains("variance", StringComparison.Ordinal) ? r + 0.5 : r * 2 - 1);
        }
    }

    /// <summary>A random model and its layers that may lose channels (never the output layer).</summary>
    private static (string Json, List<string> Targets) RandomModel(Random random)
    {
        var layers = new JsonArray();
        var targets = new List<string>();
        var n = 0;
        string Add(string cls, JsonObject config, params string[] inputs)
        {
            var name = $"l{n++}";
            config["name"] = name;
            var node = new JsonArray();
            foreach (var input in inputs) node.Add(new JsonArray(input, 0, 0, new JsonObject()));
            layers.Add(new JsonObject { ["class_name"] = cls, ["name"] = name, ["config"] = config, ["inbound_nodes"] = new JsonArray(node) });
            return name;
        }
        string[] activations = { "relu", "tanh", "sigmoid", "elu", "linear" };
        layers.Add(new JsonObject { ["class_name"] = "InputLayer", ["name"] = "x", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, 10, 10, 2), ["name"] = "x" }, ["inbound_nodes"] = new JsonArray() });
        var current = "x";
        var size = 10;
        for (var c = 0; c < random.Next(1, 4) && size >= 3; c++)
        {
            var filters = random.Next(2, 7);
            var conv = Add("Conv2D", new JsonObject { ["filters"] = filters, ["kernel_size"] = 3, ["activation"] = activations[random.Next(activations.Length)] }, current);
            targets.Add(conv);
            current = conv;
            size -= 2;
            if (random.Next(2) == 0) current = Add("BatchNormalization", new JsonObject { ["epsilon"] = 0.01 }, current);
            if (random.Next(3) == 0) current = Add("Activation", new JsonObject { ["activation"] = activations[random.Next(activations.Length)] }, current);
            if (random.Next(3) == 0 && size >= 4)
            {
                // A residual block: a 1x1 branch of the same width, added back.
                var branch = Add("Conv2D", new JsonObject { ["filters"] = filters, ["kernel_size"] = 1, ["activation"] = "relu" }, current);
                targets.Add(branch);
                current = Add("Add", new JsonObject(), current, branch);
            }
            if (random.Next(3) == 0 && size >= 4)
            {
                current = Add("MaxPooling2D", new JsonObject { ["pool_size"] = 2 }, current);
                size /= 2;
            }
            if (random.Next(4) == 0) current = Add("Dropout", new JsonObject { ["rate"] = 0.5 }, current);
        }
        current = random.Next(2) == 0 ? Add("Flatten", new JsonObject(), current) : Add("GlobalAveragePooling2D", new JsonObject(), current);
        for (var d = 0; d < random.Next(0, 3); d++)
        {
            var dense = Add("Dense", new JsonObject { ["units"] = random.Next(2, 8), ["activation"] = activations[random.Next(activations.Length)] }, current);
            targets.Add(dense);
            current = dense;
            if (random.Next(3) == 0) current = Add("BatchNormalization", new JsonObject(), current);
        }
        var output = Add("Dense", new JsonObject { ["units"] = 3 }, current);
        var model = new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject { ["name"] = "random", ["layers"] = layers, ["input_layers"] = new JsonArray(new JsonArray("x", 0, 0)), ["output_layers"] = new JsonArray(new JsonArray(output, 0, 0)) },
        };
        return (model.ToJsonString(), targets);
    }
}
