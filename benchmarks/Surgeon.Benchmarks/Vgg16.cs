using System.Text.Json.Nodes;

namespace Surgeon.Benchmarks;

/// <summary>
/// The architecture of Keras Applications' VGG16 (<c>include_top=True</c>, 224x224x3 input, 1000 classes) as
/// tf.keras 2 <c>model.to_json()</c> writes it: a Functional model with the same layer names and configs.
/// </summary>
internal static class Vgg16
{
    /// <summary><c>keras.applications.VGG16().count_params()</c>.</summary>
    public const long ParameterCount = 138_357_544;

    /// <summary>VGG16's architecture JSON; the optional arguments shrink it (same layers, fewer weights) for a JIT warm-up.</summary>
    public static string ArchitectureJson(int inputSize = 224, int widthDivisor = 1, int denseUnits = 4096, int classes = 1000)
    {
        var layers = new JsonArray();
        var previous = "input_1";
        layers.Add(new JsonObject
        {
            ["class_name"] = "InputLayer",
            ["config"] = new JsonObject
            {
                ["batch_input_shape"] = new JsonArray(null, inputSize, inputSize, 3),
                ["dtype"] = "float32",
                ["sparse"] = false,
                ["ragged"] = false,
                ["name"] = previous,
            },
            ["name"] = previous,
            ["inbound_nodes"] = new JsonArray(),
        });

        void Add(string className, string name, JsonObject config)
        {
            config["name"] = name;
            config["trainable"] = true;
            config["dtype"] = "float32";
            layers.Add(new JsonObject
            {
                ["class_name"] = className,
                ["config"] = config,
                ["name"] = name,
                ["inbound_nodes"] = new JsonArray(new JsonArray(new JsonArray(previous, 0, 0, new JsonObject()))),
            });
            previous = name;
        }

        int[][] blocks = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];
        for (var b = 0; b < blocks.Length; b++)
        {
            for (var c = 0; c < blocks[b].Length; c++)
            {
                Add("Conv2D", $"block{b + 1}_conv{c + 1}", new JsonObject
                {
                    ["filters"] = Math.Max(1, blocks[b][c] / widthDivisor),
                    ["kernel_size"] = new JsonArray(3, 3),
                    ["strides"] = new JsonArray(1, 1),
                    ["padding"] = "same",
                    ["data_format"] = "channels_last",
                    ["dilation_rate"] = new JsonArray(1, 1),
                    ["groups"] = 1,
                    ["activation"] = "relu",
                }.WithKernelDefaults());
            }
            Add("MaxPooling2D", $"block{b + 1}_pool", new JsonObject
            {
                ["pool_size"] = new JsonArray(2, 2),
                ["padding"] = "valid",
                ["strides"] = new JsonArray(2, 2),
                ["data_format"] = "channels_last",
            });
        }
        Add("Flatten", "flatten", new JsonObject { ["data_format"] = "channels_last" });
        Add("Dense", "fc1", DenseConfig(denseUnits, "relu"));
        Add("Dense", "fc2", DenseConfig(denseUnits, "relu"));
        Add("Dense", "predictions", DenseConfig(classes, "softmax"));

        var root = new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = "vgg16",
                ["trainable"] = true,
                ["layers"] = layers,
                ["input_layers"] = new JsonArray(new JsonArray("input_1", 0, 0)),
                ["output_layers"] = new JsonArray(new JsonArray(previous, 0, 0)),
            },
            ["keras_version"] = "2.15.0",
            ["backend"] = "tensorflow",
        };
        return root.ToJsonString();
    }

    private static JsonObject DenseConfig(int units, string activation) =>
        new JsonObject { ["units"] = units, ["activation"] = activation }.WithKernelDefaults();

    /// <summary>The keys tf.keras writes for every layer with a kernel and a bias (defaults: Glorot, zeros, none).</summary>
    internal static JsonObject WithKernelDefaults(this JsonObject config)
    {
        config["use_bias"] = true;
        config["kernel_initializer"] = Initializer("GlorotUniform");
        config["bias_initializer"] = Initializer("Zeros");
        foreach (var key in new[] { "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint" })
            config[key] = null;
        return config;
    }

    private static JsonObject Initializer(string className) => new()
    {
        ["class_name"] = className,
        ["config"] = className == "Zeros" ? new JsonObject() : new JsonObject { ["seed"] = null },
    };
}
