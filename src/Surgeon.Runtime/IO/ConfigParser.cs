using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surgeon.IO;

/// <summary>Where a layer sits, handed to a weight source so it can find the layer's variables.</summary>
/// <param name="Scope">Names of the enclosing nested-model layers, outermost first (empty at top level).</param>
/// <param name="Name">Layer name.</param>
/// <param name="ClassName">Layer class.</param>
/// <param name="Config">Layer config.</param>
/// <param name="ArchivePath">Path of the layer's group in a Keras 3 <c>model.weights.h5</c>.</param>
internal sealed record LayerSite(IReadOnlyList<string> Scope, string Name, string ClassName, JsonObject Config, string ArchivePath);

/// <summary>Supplies the weights of each layer while a configuration is parsed.</summary>
internal interface IWeightSource
{
    /// <summary>The weights of the layer at <paramref name="site"/> (empty for a weightless layer).</summary>
    LayerWeights Load(LayerSite site);
}

/// <summary>Weights of one layer plus Keras 3 group-name attributes to keep.</summary>
internal sealed record LayerWeights(IReadOnlyList<KerasWeight> Weights, IReadOnlyDictionary<string, string> ArchiveGroupNames)
{
    public static readonly LayerWeights None = new(Array.Empty<KerasWeight>(), new Dictionary<string, string>());
}


/// <summary>
/// Turns a serialized Keras model (<c>{"class_name": ..., "config": ...}</c>) of any Keras dialect into a
/// <see cref="KerasModel"/> graph, asking an <see cref="IWeightSource"/> for each layer's weights.
/// </summary>
internal sealed class ConfigParser
{
    private static readonly HashSet<string> s_modelClasses = new(StringComparer.Ordinal) { "Sequential", "Functional", "Model" };
    private readonly string? _file;
    private readonly IWeightSource _weights;

    public ConfigParser(string? file, IWeightSource weights)
    {
        _file = file;
        _weights = weights;
    }

    /// <summary>Parses the top-level model object.</summary>
    public KerasModel Parse(JsonObject root, ModelSource source) => ParseModel(root, source, Array.Empty<string>(), "layers/");

    /// <summary>Parses JSON text into an object, with a clear error naming the file.</summary>
    public static JsonObject ParseObject(string text, string? file, string what)
    {
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 256 }) as JsonObject
                ?? throw new KerasFormatException(file, $"{what} is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new KerasFormatException(file, $"{what} is not valid JSON: {e.Message}", inner: e);
        }
    }

    private KerasModel ParseModel(JsonObject root, ModelSource source, IReadOnlyList<string> scope, string archivePrefix)
    {
        var className = RequireString(root, "class_name", null, "model");
        var configNode = root["config"];
        JsonArray layerArray;
        JsonObject? config = configNode as JsonObject;
        if (configNode is JsonArray list)
        {
            layerArray = list; // Keras 1/2 Sequential: the config is the layer list itself
        }
        else if (config is not null && config["layers"] is JsonArray configLayers)
        {
            layerArray = configLayers;
        }
        else if (config?["layers"] is { } notList)
        {
            throw new KerasFormatException(_file, $"model '{className}': 'layers' is not a list but {notList.GetValueKind()}.");
        }
        else if (config is not null)
        {
            return ParseOpaqueModel(root, className, config, source);
        }
        else
        {
            throw new KerasFormatException(_file, $"model '{className}' has no 'config' object.");
        }

        var name = config?["name"] is JsonValue nv && nv.TryGetValue(out string? n) ? n : className.ToLowerInvariant();
        var sequential = className == "Sequential";
        var layers = new List<KerasLayer>(layerArray.Count + 1);
        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        var dialect = DetectDialect(layerArray, source);
        KerasLayer? previous = null;

        for (var i = 0; i < layerArray.Count; i++)
        {
            if (layerArray[i] is not JsonObject entry)
            {
                throw new KerasFormatException(_file, $"layer #{i} of model '{name}' is not a JSON object.");
            }
            var entryName = entry["name"] is JsonValue ev && ev.TryGetValue(out string? s0) ? s0 : null;
            var layerClass = RequireString(entry, "class_name", entryName, $"layer #{i}");
            var layerConfig = entry["config"] as JsonObject
                ?? throw new KerasFormatException(_file, $"layer #{i} ({layerClass}) has no 'config' object.", entryName);
            var layerName = entry["name"] is JsonValue en && en.TryGetValue(out string? s1) ? s1
                : layerConfig["name"] is JsonValue cn && cn.TryGetValue(out string? s2) ? s2
                : throw new KerasFormatException(_file, $"layer #{i} ({layerClass}) has no name.");

            CheckConfig(layerClass, layerConfig, layerName);

            IReadOnlyList<KerasNode> nodes;
            if (sequential)
            {
                if (i == 0 && layerClass != "InputLayer")
                {
                    previous = SynthesizeInput(layerName, layerConfig, dialect);
                    layers.Add(previous);
                }
                nodes = previous is null
                    ? Array.Empty<KerasNode>()
                    : new[] { new KerasNode(new[] { new TensorRef(previous.Name) }, null) };
            }
            else
            {
                nodes = ParseNodes(entry["inbound_nodes"], layerName);
            }

            var archivePath = layerClass == "InputLayer" && sequential ? "" : archivePrefix + ArchiveName(layerClass, counters);
            KerasModel? nested = null;
            var site = new LayerSite(scope, layerName, layerClass, layerConfig, archivePath);
            LayerWeights weights;
            if (s_modelClasses.Contains(layerClass) && (layerConfig["layers"] is JsonArray || entry["config"] is JsonArray))
            {
                nested = ParseModel(entry, source, scope.Append(layerName).ToArray(), archivePath + "/layers/");
                weights = LayerWeights.None;
            }
            else
            {
                weights = _weights.Load(site);
            }

            var layer = new KerasLayer(entry, layerClass, layerName, nodes, weights.Weights, nested, synthesized: false)
            {
                ArchiveGroupNames = weights.ArchiveGroupNames,
            };
            layers.Add(layer);
            previous = layer;
        }

        NormalizeNestedNodeIndices(layers, dialect, sequential ? null : config, out var endpointOffsets);

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            if (!names.Add(layer.Name))
                throw new KerasFormatException(_file, $"two layers of model '{name}' are named '{layer.Name}'.", layer.Name);
        }

        IReadOnlyList<TensorRef> inputs, outputs;
        if (sequential)
        {
            inputs = layers.Count > 0 ? new[] { new TensorRef(layers[0].Name) } : Array.Empty<TensorRef>();
            outputs = layers.Count > 0 ? new[] { new TensorRef(layers[^1].Name) } : Array.Empty<TensorRef>();
        }
        else
        {
            inputs = ParseEndpoints(config?["input_layers"], "input_layers", name).Select(endpointOffsets).ToArray();
            outputs = ParseEndpoints(config?["output_layers"], "output_layers", name).Select(endpointOffsets).ToArray();
        }

        foreach (var layer in layers)
        {
            foreach (var node in layer.InboundNodes)
            {
                foreach (var t in node.Inputs)
                {
                    CheckRef(t, names, layer.Name, name);
                }
            }
        }
        foreach (var t in inputs.Concat(outputs)) CheckRef(t, names, null, name);

        return new KerasModel(root, className, name, layers, inputs, outputs, source) { Dialect = dialect };
    }

    /// <summary>Config keys of known layers that must hold a positive integer when present (Keras fails on anything else).</summary>
    private static readonly string[] s_sizeKeys = { "units", "filters", "output_dim", "input_dim", "nb_filter", "depth_multiplier" };

    /// <summary>Refuses config values of a wrong type that later stages (weight matching, shapes) rely on.</summary>
    private void CheckConfig(string className, JsonObject config, string layer)
    {
        // Wrappers (TimeDistributed, Bidirectional) name the class of the layer they wrap.
        if (config["layer"] is JsonObject inner)
            RequireString(inner, "class_name", layer, "the wrapped layer");
        if (!LayerCatalog.IsKnown(className)) return;
        foreach (var key in s_sizeKeys)
        {
            var value = config[key];
            if (value is null) continue;
            if (!TryInt(value, out var n) || n <= 0)
                throw new KerasFormatException(_file, $"'{key}' should be a positive integer but is {value.ToJsonString()}.", layer);
        }
    }

    /// <summary>
    /// Keras numbers the calls of a nested model from 1 where the model has a construction call of its own (a
    /// Functional model, or a Sequential built on an input): tf.keras and Keras 1 do so in inbound nodes and
    /// endpoints, Keras 3 only in <c>input_layers</c>/<c>output_layers</c> and only for Functional models. Surgeon
    /// numbers every layer's calls from 0 (its <see cref="KerasLayer.InboundNodes"/> index); this rewrites the
    /// references to nested models accordingly. The original JSON is kept and written back unchanged.
    /// </summary>
    private static void NormalizeNestedNodeIndices(List<KerasLayer> layers, KerasDialect dialect, JsonObject? config, out Func<TensorRef, TensorRef> endpoint)
    {
        var nodeOffset = new Dictionary<string, int>(StringComparer.Ordinal);
        var endpointOffset = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var l in layers)
        {
            if (l.NestedModel is not { } nested) continue;
            var hasConstructionCall = !nested.IsSequential || nested.Layers.FirstOrDefault()?.ClassName == "InputLayer";
            if (!hasConstructionCall) continue;
            if (dialect != KerasDialect.Keras3) nodeOffset[l.Name] = 1;
            if (dialect != KerasDialect.Keras3 || !nested.IsSequential) endpointOffset[l.Name] = 1;
        }
        TensorRef Shift(TensorRef t, Dictionary<string, int> offsets) =>
            offsets.TryGetValue(t.Layer, out var o) && t.NodeIndex >= o ? t with { NodeIndex = t.NodeIndex - o } : t;
        endpoint = t => Shift(t, endpointOffset);
        if (nodeOffset.Count == 0) return;
        for (var i = 0; i < layers.Count; i++)
        {
            var l = layers[i];
            if (!l.InboundNodes.Any(n => n.Inputs.Any(t => nodeOffset.ContainsKey(t.Layer)))) continue;
            var nodes = l.InboundNodes.Select(n => new KerasNode(n.Inputs.Select(t => Shift(t, nodeOffset)).ToArray(), n.Raw)).ToArray();
            layers[i] = new KerasLayer(l.Entry, l.ClassName, l.Name, nodes, l.Weights, l.NestedModel, l.IsSynthesized) { ArchiveGroupNames = l.ArchiveGroupNames };
        }
    }

    private KerasModel ParseOpaqueModel(JsonObject root, string className, JsonObject config, ModelSource source)
    {
        var name = config["name"] is JsonValue nv && nv.TryGetValue(out string? n) ? n : className;
        return new KerasModel(root, className, name, Array.Empty<KerasLayer>(), Array.Empty<TensorRef>(),
            Array.Empty<TensorRef>(), source) { IsOpaque = true, Dialect = KerasDialect.Keras3 };
    }

    private void CheckRef(TensorRef t, HashSet<string> names, string? consumer, string model)
    {
        if (!names.Contains(t.Layer))
        {
            var who = consumer is null ? $"model '{model}' inputs/outputs" : $"an inbound node";
            throw new KerasFormatException(_file, $"{who} refer(s) to layer '{t.Layer}', which the model does not have.", consumer);
        }
        if (t.NodeIndex < 0 || t.TensorIndex < 0)
            throw new KerasFormatException(_file, $"tensor reference {t} has a negative index.", consumer);
    }

    /// <summary>The Keras 3 weights-file group name of a layer: snake_case class name with a per-class counter.</summary>
    private static string ArchiveName(string className, Dictionary<string, int> counters)
    {
        var snake = SnakeCase(className);
        if (counters.TryGetValue(snake, out var count))
        {
            counters[snake] = count + 1;
            return $"{snake}_{count + 1}";
        }
        counters[snake] = 0;
        return snake;
    }

    /// <summary>Keras's <c>naming.to_snake_case</c>: <c>Conv2DTranspose</c> becomes <c>conv2d_transpose</c>.</summary>
    internal static string SnakeCase(string name)
    {
        var s = System.Text.RegularExpressions.Regex.Replace(name, @"\W+", "");
        s = System.Text.RegularExpressions.Regex.Replace(s, "(.)([A-Z][a-z]+)", "$1_$2");
        return System.Text.RegularExpressions.Regex.Replace(s, "([a-z])([A-Z])", "$1_$2").ToLowerInvariant();
    }

    private KerasLayer SynthesizeInput(string firstLayer, JsonObject firstConfig, KerasDialect dialect)
    {
        var shape = firstConfig["batch_input_shape"] ?? firstConfig["batch_shape"];
        if (shape is null && firstConfig["input_shape"] is JsonArray inputShape)
        {
            var s = new JsonArray { null };
            foreach (var d in inputShape) s.Add(d?.DeepClone());
            shape = s;
        }
        if (shape is null && firstConfig["input_dim"] is JsonValue dim)
        {
            shape = new JsonArray { null, dim.DeepClone() };
        }
        var name = firstLayer + "_input";
        var config = new JsonObject
        {
            ["batch_input_shape"] = shape?.DeepClone(),
            ["dtype"] = firstConfig["dtype"]?.DeepClone() ?? "float32",
            ["sparse"] = false,
            ["name"] = name,
        };
        var entry = new JsonObject { ["class_name"] = "InputLayer", ["config"] = config };
        return new KerasLayer(entry, "InputLayer", name, Array.Empty<KerasNode>(), Array.Empty<KerasWeight>(), null, synthesized: true);
    }

    private KerasDialect DetectDialect(JsonArray layers, ModelSource source)
    {
        foreach (var l in layers)
        {
            if (l is JsonObject o && o["inbound_nodes"] is JsonArray nodes && nodes.Count > 0)
            {
                if (nodes[0] is JsonObject) return KerasDialect.Keras3;
                if (nodes[0] is JsonArray first && first.Count > 0 && first[0] is JsonArray t)
                    return t.Count >= 4 ? KerasDialect.Keras2 : KerasDialect.Keras1;
            }
        }
        return source.KerasMajorVersion switch
        {
            1 => KerasDialect.Keras1,
            >= 3 => KerasDialect.Keras3,
            _ => KerasDialect.Keras2,
        };
    }

    private IReadOnlyList<KerasNode> ParseNodes(JsonNode? inbound, string layer)
    {
        if (inbound is null) return Array.Empty<KerasNode>();
        if (inbound is not JsonArray nodes)
            throw new KerasFormatException(_file, "'inbound_nodes' is not a list.", layer);
        var result = new KerasNode[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            var refs = new List<TensorRef>();
            switch (nodes[i])
            {
                case JsonObject k3:
                    CollectKerasTensors(k3["args"], refs, layer);
                    CollectKerasTensors(k3["kwargs"], refs, layer);
                    break;
                case JsonArray k2:
                    foreach (var item in k2)
                    {
                        refs.Add(ParseTriple(item, layer));
                    }
                    // tf.keras writes tensors passed as keyword arguments (MultiHeadAttention's value and key, an RNN's
                    // initial_state) inside the kwargs dict repeated on every entry: [layer, node, tensor] lists.
                    if (k2.Count > 0 && k2[0] is JsonArray first && first.Count >= 4 && first[3] is JsonObject kwargs)
                    {
                        foreach (var (key, value) in kwargs)
                        {
                            if (IsTensorKeyword(key)) CollectKeyword(value, refs, layer);
                        }
                    }
                    break;
                default:
                    throw new KerasFormatException(_file, $"inbound node #{i} is neither a list nor an object.", layer);
            }
            result[i] = new KerasNode(refs, nodes[i]);
        }
        return result;
    }

    /// <summary>Keyword arguments of Keras layer calls that carry tensors.</summary>
    internal static bool IsTensorKeyword(string key) =>
        key is "value" or "key" or "query" or "initial_state" or "constants" or "attention_mask";

    private void CollectKeyword(JsonNode? value, List<TensorRef> refs, string layer)
    {
        if (value is JsonArray a && a.Count >= 3 && a[0] is JsonValue v && v.TryGetValue(out string? _)) refs.Add(ParseTriple(a, layer));
        else if (value is JsonArray list) foreach (var item in list) CollectKeyword(item, refs, layer);
    }

    private void CollectKerasTensors(JsonNode? node, List<TensorRef> refs, string layer)
    {
        switch (node)
        {
            case JsonObject o when o["class_name"] is JsonValue cn && cn.TryGetValue(out string? c) && c == "__keras_tensor__":
                var history = (o["config"] as JsonObject)?["keras_history"];
                refs.Add(ParseTriple(history, layer));
                break;
            case JsonObject o:
                foreach (var (_, v) in o) CollectKerasTensors(v, refs, layer);
                break;
            case JsonArray a:
                foreach (var v in a) CollectKerasTensors(v, refs, layer);
                break;
        }
    }

    private TensorRef ParseTriple(JsonNode? item, string? layer)
    {
        if (item is JsonArray t && t.Count >= 3 && t[0] is JsonValue n && n.TryGetValue(out string? name)
            && TryInt(t[1], out var node) && TryInt(t[2], out var tensor))
        {
            return new TensorRef(name, node, tensor);
        }
        throw new KerasFormatException(_file, $"malformed tensor reference {item?.ToJsonString() ?? "null"} (expected [layer, node_index, tensor_index]).", layer);
    }

    private static bool TryInt(JsonNode? n, out int value)
    {
        value = 0;
        if (n is not JsonValue v) return false;
        if (v.TryGetValue(out int i)) { value = i; return true; }
        if (v.TryGetValue(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue) { value = (int)d; return true; }
        return false;
    }

    private IReadOnlyList<TensorRef> ParseEndpoints(JsonNode? node, string key, string model)
    {
        if (node is not JsonArray list)
            throw new KerasFormatException(_file, $"functional model '{model}' has no '{key}' list.");
        if (list.Count >= 3 && list[0] is JsonValue) return new[] { ParseTriple(list, null) }; // Keras 3 single endpoint
        return list.Select(item => ParseTriple(item, null)).ToArray();
    }

    private string RequireString(JsonObject o, string key, string? layer, string what)
    {
        if (o[key] is JsonValue v && v.TryGetValue(out string? s)) return s;
        throw new KerasFormatException(_file, $"{what} has no string '{key}'.", layer);
    }
}
