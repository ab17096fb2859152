using System.Text.Json.Nodes;

namespace Surgeon.Benchmarks;

/// <summary>
/// Writes a tf.keras 2 Functional model's <c>model.to_json()</c> text layer by layer: one input, each layer called
/// once (node 0) on the named layers' outputs.
/// </summary>
internal sealed class FunctionalJson
{
    private readonly JsonArray _layers = new();
    private readonly string _inputName;

    /// <summary>Starts a model with an <c>InputLayer</c> named <paramref name="inputName"/> of shape (None, dims...).</summary>
    public FunctionalJson(string inputName, params int[] dims)
    {
        _inputName = inputName;
        var shape = new JsonArray((JsonNode?)null);
        foreach (var d in dims) shape.Add(d);
        _layers.Add(new JsonObject
        {
            ["class_name"] = "InputLayer",
            ["config"] = new JsonObject
            {
                ["batch_input_shape"] = shape,
                ["dtype"] = "float32",
                ["sparse"] = false,
                ["ragged"] = false,
                ["name"] = inputName,
            },
            ["name"] = inputName,
            ["inbound_nodes"] = new JsonArray(),
        });
    }

    /// <summary>Adds layer <paramref name="name"/> called on the outputs of <paramref name="inputs"/>; returns its name.</summary>
    public string Add(string className, string name, JsonObject config, params string[] inputs)
    {
        config["name"] = name;
        config["trainable"] = true;
        config["dtype"] = "float32";
        var node = new JsonArray();
        foreach (var input in inputs) node.Add(new JsonArray(input, 0, 0, new JsonObject()));
        _layers.Add(new JsonObject
        {
            ["class_name"] = className,
            ["config"] = config,
            ["name"] = name,
            ["inbound_nodes"] = new JsonArray(node),
        });
        return name;
    }

    /// <summary>The whole model as JSON text, with <paramref name="output"/> as its only output.</summary>
    public string ToJson(string modelName, string output) => new JsonObject
    {
        ["class_name"] = "Functional",
        ["config"] = new JsonObject
        {
            ["name"] = modelName,
            ["trainable"] = true,
            ["layers"] = _layers,
            ["input_layers"] = new JsonArray(new JsonArray(_inputName, 0, 0)),
            ["output_layers"] = new JsonArray(new JsonArray(output, 0, 0)),
        },
        ["keras_version"] = "2.15.0",
        ["backend"] = "tensorflow",
    }.ToJsonString();

    /// <summary>A Conv2D config as tf.keras 2 writes it (channels_last, no dilation, one group, bias, Glorot).</summary>
    public static JsonObject Conv2D(int filters, int kernel, int stride, string padding, string activation) => new JsonObject
    {
        ["filters"] = filters,
        ["kernel_size"] = new JsonArray(kernel, kernel),
        ["strides"] = new JsonArray(stride, stride),
        ["padding"] = padding,
        ["data_format"] = "channels_last",
        ["dilation_rate"] = new JsonArray(1, 1),
        ["groups"] = 1,
        ["activation"] = activation,
    }.WithKernelDefaults();

    /// <summary>A Dense config as tf.keras 2 writes it (bias, Glorot).</summary>
    public static JsonObject Dense(int units, string activation) =>
        new JsonObject { ["units"] = units, ["activation"] = activation }.WithKernelDefaults();

    /// <summary>A MaxPooling2D config (channels_last).</summary>
    public static JsonObject MaxPooling2D(int pool, int stride, string padding = "valid") => new()
    {
        ["pool_size"] = new JsonArray(pool, pool),
        ["padding"] = padding,
        ["strides"] = new JsonArray(stride, stride),
        ["data_format"] = "channels_last",
    };
}
