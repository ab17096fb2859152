using System.Text.Json.Nodes;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Builds tf.keras 2 architecture JSON the way the Keras functional API is used: inputs, then layers called on
/// tensors (a layer called again gets another inbound node, i.e. it is shared), then the outputs. Every config gets
/// <c>name</c>, <c>trainable</c> and <c>dtype</c>, as Keras writes them (and as surgery writes the layers it adds).
/// </summary>
internal sealed class KerasModelBuilder(string name = "model")
{
    /// <summary>A layer's output tensor: the layer and which of its calls made it.</summary>
    public readonly record struct Node(string Layer, int Index = 0);

    private readonly List<JsonObject> _layers = new();
    private readonly Dictionary<string, JsonObject> _byName = new(StringComparer.Ordinal);
    private readonly List<Node> _inputs = new();

    /// <summary>An input of shape <paramref name="shape"/> (without the batch axis).</summary>
    public Node Input(string layer, params int[] shape)
    {
        var batchShape = new JsonArray { null };
        foreach (var d in shape) batchShape.Add(d);
        Add(layer, "InputLayer", new JsonObject { ["batch_input_shape"] = batchShape, ["dtype"] = "float32", ["sparse"] = false, ["name"] = layer });
        var node = new Node(layer);
        _inputs.Add(node);
        return node;
    }

    /// <summary>Defines layer <paramref name="layer"/> of class <paramref name="className"/> and calls it on <paramref name="inputs"/>.</summary>
    public Node Layer(string className, string layer, JsonObject config, params Node[] inputs)
    {
        var c = (JsonObject)config.DeepClone();
        var full = new JsonObject { ["name"] = layer, ["trainable"] = true, ["dtype"] = "float32" };
        foreach (var (key, value) in c) full[key] = value?.DeepClone();
        Add(layer, className, full);
        return Call(layer, inputs);
    }

    /// <summary>Calls an already defined layer again (a shared layer): returns its new output.</summary>
    public Node Call(string layer, params Node[] inputs)
    {
        var nodes = (JsonArray)_byName[layer]["inbound_nodes"]!;
        var call = new JsonArray();
        foreach (var i in inputs) call.Add(new JsonArray(i.Layer, i.Index, 0, new JsonObject()));
        nodes.Add(call);
        return new Node(layer, nodes.Count - 1);
    }

    /// <summary>The functional model's JSON with <paramref name="outputs"/> as its outputs.</summary>
    public string Build(params Node[] outputs)
    {
        static JsonArray Endpoints(IEnumerable<Node> nodes) => new(nodes.Select(n => (JsonNode?)new JsonArray(n.Layer, n.Index, 0)).ToArray());
        return new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = name,
                ["layers"] = new JsonArray(_layers.Select(l => (JsonNode?)l.DeepClone()).ToArray()),
                ["input_layers"] = Endpoints(_inputs),
                ["output_layers"] = Endpoints(outputs),
            },
        }.ToJsonString();
    }

    /// <summary>
    /// A Sequential model's JSON: an InputLayer of <paramref name="inputShape"/>, then <paramref name="layers"/> in order
    /// (each config given its name, <c>trainable</c> and <c>dtype</c>).
    /// </summary>
    public static string Sequential(string name, int[] inputShape, params (string Class, string Name, JsonObject Config)[] layers)
    {
        var batchShape = new JsonArray { null };
        foreach (var d in inputShape) batchShape.Add(d);
        var list = new JsonArray
        {
            new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = batchShape, ["dtype"] = "float32", ["sparse"] = false, ["name"] = "input_1" } },
        };
        foreach (var (cls, layer, config) in layers)
        {
            var full = new JsonObject { ["name"] = layer, ["trainable"] = true, ["dtype"] = "float32" };
            foreach (var (key, value) in config) full[key] = value?.DeepClone();
            list.Add(new JsonObject { ["class_name"] = cls, ["config"] = full });
        }
        return new JsonObject { ["class_name"] = "Sequential", ["config"] = new JsonObject { ["name"] = name, ["layers"] = list } }.ToJsonString();
    }

    private void Add(string layer, string className, JsonObject config)
    {
        if (_byName.ContainsKey(layer)) throw new ArgumentException($"Layer '{layer}' is already defined; use Call to call it again.", nameof(layer));
        var entry = new JsonObject { ["class_name"] = className, ["name"] = layer, ["config"] = config, ["inbound_nodes"] = new JsonArray() };
        _layers.Add(entry);
        _byName[layer] = entry;
    }
}
