using System.Text.Json.Nodes;
using Surgeon.Shapes;

namespace Surgeon.IO;

/// <summary>
/// Rewrites a tf.keras 2 style configuration (layer entries without <c>module</c>, nested-list inbound nodes,
/// <c>batch_input_shape</c>) into the Keras 3 form its <c>.keras</c> loader requires. Keras 3 reads the old form
/// only from legacy HDF5 files; in <c>config.json</c> it fails on the first object without a <c>module</c>.
/// </summary>
/// <remarks>
/// The rules mirror what Keras 3 itself writes and what its legacy loader converts (docs/keras-file-formats.md):
/// module/registered_name on the model and on every built-in layer (wrapped layers and cells included); InputLayer
/// <c>batch_input_shape</c> becomes <c>batch_shape</c>, other layers lose it (a Sequential gets an explicit
/// InputLayer); Keras 2 only keys Keras 3 constructors reject are dropped; nodes become <c>args</c>/<c>kwargs</c>
/// with <c>__keras_tensor__</c> entries numbered from 0; endpoints keep Keras 3's 1-based numbering of Functional
/// producers.
/// </remarks>
internal static class Keras3Dialect
{
    private static readonly HashSet<string> s_recurrent = new(StringComparer.Ordinal)
    {
        "SimpleRNN", "GRU", "LSTM", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    };

    private static readonly HashSet<string> s_noGroups = new(StringComparer.Ordinal)
    {
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    };

    /// <summary>The Keras 3 serialization of <paramref name="model"/> (a new JSON tree; the model is not changed).</summary>
    public static JsonObject Convert(KerasModel model, string? file)
    {
        if (model.Dialect == KerasDialect.Keras3 || model.IsOpaque) return ConfigWriter.ToNode(model);
        return ConvertModel(model, ShapeInference.For(model), file, entry: null);
    }

    private static JsonObject ConvertModel(KerasModel model, ShapeInference shapes, string? file, JsonObject? entry)
    {
        var layers = new JsonArray();
        foreach (var layer in model.Layers)
        {
            if (model.IsSequential && layer.IsSynthesized)
            {
                layers.Add(InputLayerEntry(layer));
                continue;
            }
            JsonObject converted;
            if (layer.NestedModel is { } nested)
            {
                converted = ConvertModel(nested, ShapeInference.For(nested), file, layer.Entry);
            }
            else
            {
                converted = ConvertLayer(layer.Entry, file, layer.Name);
            }
            converted["name"] = layer.Name;
            if (!model.IsSequential) converted["inbound_nodes"] = Nodes(layer, model, shapes);
            else converted.Remove("inbound_nodes");
            layers.Add(converted);
        }

        var oldConfig = model.Root["config"] as JsonObject;
        var config = new JsonObject { ["name"] = model.Name, ["trainable"] = model.Trainable };
        if (oldConfig is not null)
        {
            foreach (var (key, value) in oldConfig)
            {
                if (key is "layers" or "input_layers" or "output_layers" or "name" or "trainable") continue;
                config[key] = value?.DeepClone();
            }
        }
        config["layers"] = layers;
        if (!model.IsSequential)
        {
            config["input_layers"] = Endpoints(model, model.Inputs);
            config["output_layers"] = Endpoints(model, model.Outputs);
        }
        var functional = !model.IsSequential;
        var root = new JsonObject
        {
            ["module"] = functional ? "keras.src.models.functional" : "keras",
            ["class_name"] = functional ? "Functional" : "Sequential",
            ["config"] = config,
            ["registered_name"] = functional ? "Functional" : null,
        };
        return root;
    }

    private static JsonObject InputLayerEntry(KerasLayer layer)
    {
        var c = layer.ConfigNode;
        return new JsonObject
        {
            ["module"] = "keras.layers",
            ["class_name"] = "InputLayer",
            ["config"] = new JsonObject
            {
                ["batch_shape"] = c["batch_input_shape"]?.DeepClone(),
                ["dtype"] = DType(c["dtype"]) ?? "float32",
                ["sparse"] = false,
                ["name"] = layer.Name,
            },
            ["registered_name"] = null,
        };
    }

    /// <summary>One layer entry (or a wrapped layer / cell) in Keras 3 form.</summary>
    private static JsonObject ConvertLayer(JsonObject entry, string? file, string layerName)
    {
        var className = entry["class_name"].AsString() ?? "";
        var result = new JsonObject();
        if (LayerCatalog.IsKnown(className))
        {
            result["module"] = "keras.layers";
        }
        result["class_name"] = className;
        var config = (entry["config"] as JsonObject)?.DeepClone() as JsonObject ?? new JsonObject();
        ConvertConfig(className, config, file, layerName);
        result["config"] = config;
        result["registered_name"] = LayerCatalog.IsKnown(className) ? null : entry["registered_name"]?.DeepClone();
        foreach (var (key, value) in entry)
        {
            if (key is "class_name" or "config" or "module" or "registered_name" or "inbound_nodes" or "name") continue;
            result[key] = value?.DeepClone();
        }
        return result;
    }

    private static void ConvertConfig(string className, JsonObject c, string? file, string layerName)
    {
        if (className == "InputLayer")
        {
            if (c["batch_input_shape"] is { } shape)
            {
                c.Remove("batch_input_shape");
                c["batch_shape"] = shape.DeepClone();
            }
        }
        else
        {
            c.Remove("batch_input_shape");
            c.Remove("batch_size");
        }
        if (DType(c["dtype"]) is { } dtype) c["dtype"] = dtype;
        if (s_recurrent.Contains(className)) c.Remove("time_major");
        if (s_noGroups.Contains(className))
        {
            if (c["groups"] is JsonValue g && g.TryGetValue(out int groups) && groups != 1)
                throw new KerasFormatException(file, $"has groups={groups}, which Keras 3's {className} cannot express.", layerName);
            c.Remove("groups");
        }
        if (className == "BatchNormalization")
        {
            if (c["axis"] is JsonArray axes && axes.Count == 1) c["axis"] = axes[0]!.DeepClone();
            c.Remove("fused");
            c.Remove("virtual_batch_size");
            c.Remove("adjustment");
        }
        foreach (var key in new[] { "layer", "backward_layer", "cell" })
        {
            if (c[key] is JsonObject inner && inner["class_name"] is not null)
            {
                c[key] = ConvertLayer(inner, file, layerName);
            }
        }
    }

    /// <summary>A dtype as Keras 3 accepts it everywhere: a plain string (tf.keras mixed-precision policies unwrapped).</summary>
    private static string? DType(JsonNode? dtype) => dtype switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o => (o["config"] as JsonObject)?["name"].AsString(),
        _ => null,
    };

    private static JsonArray Nodes(KerasLayer layer, KerasModel model, ShapeInference shapes)
    {
        var array = new JsonArray();
        foreach (var node in layer.InboundNodes)
        {
            // The first entries of a tf.keras node are the positional input(s); tensors inside its kwargs follow in
            // node.Inputs (see ConfigParser) and become keyword arguments again.
            var positional = node.Raw is JsonArray rawEntries ? rawEntries.Count : node.Inputs.Count;
            var tensors = node.Inputs.Take(positional).Select(t => (JsonNode)KerasTensor(t, shapes)).ToArray();
            var args = tensors.Length == 1 ? new JsonArray(tensors[0]) : new JsonArray(new JsonArray(tensors));
            var kwargs = new JsonObject();
            var next = positional;
            if (node.Raw is JsonArray entries && entries.Count > 0 && entries[0] is JsonArray first && first.Count >= 4 && first[3] is JsonObject kw)
            {
                foreach (var (key, value) in kw)
                {
                    if (ConfigParser.IsTensorKeyword(key) && value is JsonArray a && a.Count >= 3 && a[0] is JsonValue && next < node.Inputs.Count)
                    {
                        kwargs[key] = KerasTensor(node.Inputs[next++], shapes);
                        continue;
                    }
                    kwargs[key] = value?.DeepClone();
                }
            }
            array.Add(new JsonObject { ["args"] = args, ["kwargs"] = kwargs });
        }
        return array;
    }

    private static JsonObject KerasTensor(TensorRef t, ShapeInference shapes)
    {
        var shape = shapes.OutputShapes(t.Layer, t.NodeIndex) is { } s && t.TensorIndex < s.Count
            ? new JsonArray(s[t.TensorIndex].Select(d => (JsonNode?)(d is null ? null : JsonValue.Create(d.Value))).ToArray())
            : new JsonArray();
        return new JsonObject
        {
            ["class_name"] = "__keras_tensor__",
            ["config"] = new JsonObject
            {
                ["shape"] = shape,
                ["dtype"] = "float32",
                ["keras_history"] = new JsonArray(t.Layer, t.NodeIndex, t.TensorIndex),
            },
        };
    }

    private static JsonArray Endpoints(KerasModel model, IReadOnlyList<TensorRef> refs)
    {
        var list = new JsonArray();
        foreach (var t in refs)
        {
            // Keras 3 numbers a nested Functional model's calls from 1 in input_layers/output_layers.
            var offset = model.FindLayer(t.Layer)?.NestedModel is { IsSequential: false } ? 1 : 0;
            list.Add(new JsonArray(t.Layer, t.NodeIndex + offset, t.TensorIndex));
        }
        return list;
    }
}
