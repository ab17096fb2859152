using System.Text.Json.Nodes;

namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>
/// Architectures built in code where the real fixtures have no example: a network of more than 100 layers (the
/// largest real fixture has 51) and a nested model used twice. Both are written in the tf.keras 2 dialect
/// (nested-list inbound nodes), as <c>model.to_json()</c> writes it.
/// </summary>
public static class SyntheticArchitectures
{
    /// <summary>
    /// A ResNet-50-shaped Functional model (177 layers) with Keras Applications' layer names: a stem, four stacks of
    /// bottleneck blocks (3, 4, 6, 3) with projection shortcuts on each stack's first block, global pooling and a
    /// 1000-way Dense. Input (None, 224, 224, 3).
    /// </summary>
    public static string ResNet50()
    {
        var b = new FunctionalBuilder("resnet50", "input_1", new JsonArray(null, 224, 224, 3));
        var x = b.Add("ZeroPadding2D", "conv1_pad", new JsonObject { ["padding"] = new JsonArray(new JsonArray(3, 3), new JsonArray(3, 3)) }, "input_1");
        x = b.Add("Conv2D", "conv1_conv", Conv(64, 7, 2, "valid"), x);
        x = b.Add("BatchNormalization", "conv1_bn", BatchNorm(), x);
        x = b.Add("Activation", "conv1_relu", new JsonObject { ["activation"] = "relu" }, x);
        x = b.Add("ZeroPadding2D", "pool1_pad", new JsonObject { ["padding"] = new JsonArray(new JsonArray(1, 1), new JsonArray(1, 1)) }, x);
        x = b.Add("MaxPooling2D", "pool1_pool", new JsonObject { ["pool_size"] = new JsonArray(3, 3), ["strides"] = new JsonArray(2, 2), ["padding"] = "valid" }, x);
        var stacks = new (int Blocks, int Filters, int Stride)[] { (3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2) };
        for (var s = 0; s < stacks.Length; s++)
        {
            var (blocks, filters, stride) = stacks[s];
            for (var block = 1; block <= blocks; block++)
            {
                var name = $"conv{s + 2}_block{block}";
                var first = block == 1;
                var shortcut = x;
                if (first)
                {
                    shortcut = b.Add("Conv2D", name + "_0_conv", Conv(4 * filters, 1, stride, "valid"), x);
                    shortcut = b.Add("BatchNormalization", name + "_0_bn", BatchNorm(), shortcut);
                }
                var y = b.Add("Conv2D", name + "_1_conv", Conv(filters, 1, first ? stride : 1, "valid"), x);
                y = b.Add("BatchNormalization", name + "_1_bn", BatchNorm(), y);
                y = b.Add("Activation", name + "_1_relu", new JsonObject { ["activation"] = "relu" }, y);
                y = b.Add("Conv2D", name + "_2_conv", Conv(filters, 3, 1, "same"), y);
                y = b.Add("BatchNormalization", name + "_2_bn", BatchNorm(), y);
                y = b.Add("Activation", name + "_2_relu", new JsonObject { ["activation"] = "relu" }, y);
                y = b.Add("Conv2D", name + "_3_conv", Conv(4 * filters, 1, 1, "valid"), y);
                y = b.Add("BatchNormalization", name + "_3_bn", BatchNorm(), y);
                y = b.Add("Add", name + "_add", new JsonObject(), shortcut, y);
                x = b.Add("Activation", name + "_out", new JsonObject { ["activation"] = "relu" }, y);
            }
        }
        x = b.Add("GlobalAveragePooling2D", "avg_pool", new JsonObject { ["data_format"] = "channels_last" }, x);
        x = b.Add("Dense", "predictions", new JsonObject { ["units"] = 1000, ["activation"] = "softmax", ["use_bias"] = true }, x);
        return b.Build(x);
    }

    /// <summary>
    /// A Functional model that calls a nested Sequential <c>tower</c> (Dense 5, BatchNormalization) on two inputs
    /// (a shared nested model), concatenates both calls and has two Dense outputs, <c>score</c> and <c>aux</c>.
    /// Calls of the nested model are numbered from 1, as tf.keras writes them.
    /// </summary>
    public const string Siamese = """
        {"class_name": "Functional", "keras_version": "2.4.0", "config": {"name": "siamese", "layers": [
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

    private static JsonObject Conv(int filters, int kernel, int stride, string padding) => new()
    {
        ["filters"] = filters,
        ["kernel_size"] = new JsonArray(kernel, kernel),
        ["strides"] = new JsonArray(stride, stride),
        ["padding"] = padding,
        ["data_format"] = "channels_last",
        ["dilation_rate"] = new JsonArray(1, 1),
        ["activation"] = "linear",
        ["use_bias"] = true,
    };

    private static JsonObject BatchNorm() => new() { ["axis"] = 3, ["epsilon"] = 1.001e-5, ["center"] = true, ["scale"] = true };

    private sealed class FunctionalBuilder
    {
        private readonly string _name;
        private readonly string _input;
        private readonly JsonArray _layers = new();

        public FunctionalBuilder(string name, string input, JsonArray shape)
        {
            _name = name;
            _input = input;
            _layers.Add(new JsonObject
            {
                ["name"] = input,
                ["class_name"] = "InputLayer",
                ["config"] = new JsonObject { ["batch_input_shape"] = shape, ["dtype"] = "float32", ["sparse"] = false, ["name"] = input },
                ["inbound_nodes"] = new JsonArray(),
            });
        }

        public string Add(string className, string name, JsonObject config, params string[] inputs)
        {
            config["name"] = name;
            config["trainable"] = true;
            var node = new JsonArray();
            foreach (var i in inputs) node.Add(new JsonArray(i, 0, 0, new JsonObject()));
            _layers.Add(new JsonObject { ["name"] = name, ["class_name"] = className, ["config"] = config, ["inbound_nodes"] = new JsonArray(node) });
            return name;
        }

        public string Build(string output) => new JsonObject
        {
            ["class_name"] = "Functional",
            ["keras_version"] = "2.4.0",
            ["backend"] = "tensorflow",
            ["config"] = new JsonObject
            {
                ["name"] = _name,
                ["layers"] = _layers,
                ["input_layers"] = new JsonArray(new JsonArray(_input, 0, 0)),
                ["output_layers"] = new JsonArray(new JsonArray(output, 0, 0)),
            },
        }.ToJsonString();
    }
}
