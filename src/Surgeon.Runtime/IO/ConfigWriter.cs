using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surgeon.IO;

/// <summary>
/// Serializes a <see cref="KerasModel"/> back to Keras's JSON, in the dialect it was read in. Unchanged parts
/// (every key of every layer entry, every inbound node) are written exactly as they were read.
/// </summary>
internal static class ConfigWriter
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static string ToJson(KerasModel model, bool indented) =>
        indented ? ToNode(model).ToJsonString(s_indented) : ToNode(model).ToJsonString();

    /// <summary>
    /// What Keras stores as the legacy HDF5 <c>model_config</c> attribute: only <c>class_name</c> and <c>config</c>
    /// (<c>model.to_json()</c>'s <c>keras_version</c>/<c>backend</c> go to file attributes; Keras 3's
    /// <c>module</c>, <c>build_config</c> and <c>compile_config</c> are not part of it).
    /// </summary>
    public static JsonObject Architecture(KerasModel model)
    {
        var full = ToNode(model);
        return new JsonObject { ["class_name"] = full["class_name"]?.DeepClone(), ["config"] = full["config"]?.DeepClone() };
    }

    /// <summary>The whole serialized model: a deep copy of the original root with the layer list rebuilt.</summary>
    public static JsonObject ToNode(KerasModel model)
    {
        var root = (JsonObject)model.Root.DeepClone();
        if (model.IsOpaque) return root;
        var layers = new JsonArray();
        foreach (var layer in model.Layers)
        {
            if (layer.IsSynthesized) continue;
            layers.Add(LayerEntry(layer, model));
        }
        if (root["config"] is JsonArray)
        {
            root["config"] = layers;
        }
        else
        {
            ((JsonObject)root["config"]!)["layers"] = layers;
        }
        return root;
    }

    private static JsonObject LayerEntry(KerasLayer layer, KerasModel model)
    {
        JsonObject entry;
        if (layer.NestedModel is { } nested)
        {
            entry = ToNode(nested);
            if (layer.Entry["inbound_nodes"] is not null) entry["inbound_nodes"] = Nodes(layer, model.Dialect, model);
            return entry;
        }
        entry = (JsonObject)layer.Entry.DeepClone();
        if (!model.IsSequential && (layer.Entry["inbound_nodes"] is not null || layer.InboundNodes.Count > 0))
        {
            entry["inbound_nodes"] = Nodes(layer, model.Dialect, model);
        }
        return entry;
    }

    private static JsonArray Nodes(KerasLayer layer, KerasDialect dialect, KerasModel model)
    {
        var array = new JsonArray();
        foreach (var node in layer.InboundNodes)
        {
            array.Add(node.Raw?.DeepClone() ?? Synthesize(node, dialect, model));
        }
        return array;
    }

    /// <summary>A node with no recorded form (created by surgery), written the way Keras of that dialect writes one.</summary>
    private static JsonNode Synthesize(KerasNode node, KerasDialect dialect, KerasModel model)
    {
        // Undo the parser's numbering of nested-model calls from 0 (see ConfigParser.NormalizeNestedNodeIndices).
        TensorRef Serialized(TensorRef t) =>
            dialect != KerasDialect.Keras3 && model.FindLayer(t.Layer)?.NestedModel is { } nested
                && (!nested.IsSequential || nested.Layers.FirstOrDefault()?.ClassName == "InputLayer")
                ? t with { NodeIndex = t.NodeIndex + 1 } : t;
        node = new KerasNode(node.Inputs.Select(Serialized).ToArray(), null);
        if (dialect == KerasDialect.Keras3)
        {
            var tensors = node.Inputs.Select(t => (JsonNode)new JsonObject
            {
                ["class_name"] = "__keras_tensor__",
                ["config"] = new JsonObject
                {
                    ["shape"] = null,
                    ["dtype"] = "float32",
                    ["keras_history"] = new JsonArray(t.Layer, t.NodeIndex, t.TensorIndex),
                },
            }).ToArray();
            var args = tensors.Length == 1 ? new JsonArray(tensors[0]) : new JsonArray(new JsonArray(tensors));
            return new JsonObject { ["args"] = args, ["kwargs"] = new JsonObject() };
        }
        var list = new JsonArray();
        foreach (var t in node.Inputs)
        {
            var triple = new JsonArray(t.Layer, t.NodeIndex, t.TensorIndex);
            if (dialect == KerasDialect.Keras2) triple.Add(new JsonObject());
            list.Add(triple);
        }
        return list;
    }
}
