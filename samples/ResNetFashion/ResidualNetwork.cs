using System.Text.Json.Nodes;

namespace ResNetFashion;

/// <summary>
/// A small ResNet for 28x28x1 images, as Keras architecture JSON: a 3x3 stem, three stages of two basic blocks
/// (conv-BN-ReLU-conv-BN plus the shortcut, then ReLU; the first block of stages 2 and 3 halves the size and projects
/// the shortcut with a 1x1 conv), global average pooling and a softmax classifier. Every residual Add couples the
/// convolutions that feed it: their channels can only go together.
/// </summary>
internal static class ResidualNetwork
{
    public static string Json(int width = 16)
    {
        var layers = new JsonArray();
        string Add(string cls, string name, JsonObject config, params string[] inputs)
        {
            config["name"] = name;
            var node = new JsonArray();
            foreach (var input in inputs) node.Add(new JsonArray(input, 0, 0, new JsonObject()));
            layers.Add(new JsonObject { ["class_name"] = cls, ["name"] = name, ["config"] = config, ["inbound_nodes"] = inputs.Length == 0 ? new JsonArray() : new JsonArray(node) });
            return name;
        }
        JsonObject Conv(int filters, int kernel, int strides = 1) => new()
        {
            ["filters"] = filters, ["kernel_size"] = new JsonArray(kernel, kernel), ["strides"] = new JsonArray(strides, strides),
            ["padding"] = "same", ["use_bias"] = false, ["kernel_initializer"] = new JsonObject { ["class_name"] = "HeNormal", ["config"] = new JsonObject() },
        };
        JsonObject Bn() => new() { ["axis"] = -1, ["momentum"] = 0.9, ["epsilon"] = 1e-5 };
        JsonObject Relu() => new() { ["activation"] = "relu" };

        Add("InputLayer", "image", new JsonObject { ["batch_input_shape"] = new JsonArray(null, 28, 28, 1), ["dtype"] = "float32" });
        var x = Add("Conv2D", "stem_conv", Conv(width, 3), "image");
        x = Add("BatchNormalization", "stem_bn", Bn(), x);
        x = Add("Activation", "stem_relu", Relu(), x);
        var channels = width;
        for (var stage = 1; stage <= 3; stage++)
        {
            for (var block = 1; block <= 2; block++)
            {
                var name = $"s{stage}b{block}";
                var downsample = stage > 1 && block == 1;
                if (downsample) channels *= 2;
                var y = Add("Conv2D", $"{name}_conv1", Conv(channels, 3, downsample ? 2 : 1), x);
                y = Add("BatchNormalization", $"{name}_bn1", Bn(), y);
                y = Add("Activation", $"{name}_relu1", Relu(), y);
                y = Add("Conv2D", $"{name}_conv2", Conv(channels, 3), y);
                y = Add("BatchNormalization", $"{name}_bn2", Bn(), y);
                var shortcut = x;
                if (downsample)
                {
                    shortcut = Add("Conv2D", $"{name}_proj", Conv(channels, 1, 2), x);
                    shortcut = Add("BatchNormalization", $"{name}_proj_bn", Bn(), shortcut);
                }
                x = Add("Add", $"{name}_add", new JsonObject(), shortcut, y);
                x = Add("Activation", $"{name}_out", Relu(), x);
            }
        }
        x = Add("GlobalAveragePooling2D", "pool", new JsonObject(), x);
        x = Add("Dense", "classifier", new JsonObject { ["units"] = 10, ["activation"] = "softmax" }, x);
        return new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = "resnet_fashion",
                ["layers"] = layers,
                ["input_layers"] = new JsonArray(new JsonArray("image", 0, 0)),
                ["output_layers"] = new JsonArray(new JsonArray(x, 0, 0)),
            },
            ["keras_version"] = "2.11.0",
            ["backend"] = "tensorflow",
        }.ToJsonString();
    }
}
