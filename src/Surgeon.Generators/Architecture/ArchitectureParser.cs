using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Surgeon.Generators.Json;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Architecture;

/// <summary>The architecture JSON is valid JSON but not a usable Keras model description.</summary>
internal sealed class ArchitectureException : Exception
{
    public ArchitectureException(string message) : base(message)
    {
    }
}

/// <summary>A layer of a parsed graph, before it becomes a <see cref="LayerInfo"/>.</summary>
internal sealed class GraphLayer
{
    public GraphLayer(string name, string className, JsonObject config, List<List<TensorRef>> calls, GraphModel? nested, bool synthesized)
    {
        Name = name;
        ClassName = className;
        Config = config;
        Calls = calls;
        Nested = nested;
        IsSynthesized = synthesized;
    }

    public string Name { get; }

    public string ClassName { get; }

    public JsonObject Config { get; }

    public List<List<TensorRef>> Calls { get; set; }

    public GraphModel? Nested { get; }

    public bool IsSynthesized { get; }
}

/// <summary>A parsed Keras model graph (Sequential or Functional), the way Surgeon.Runtime builds it.</summary>
internal sealed class GraphModel
{
    public GraphModel(string className, string name, List<GraphLayer> layers, List<TensorRef> inputs, List<TensorRef> outputs)
    {
        ClassName = className;
        Name = name;
        Layers = layers;
        Inputs = inputs;
        Outputs = outputs;
    }

    public string ClassName { get; }

    public string Name { get; }

    public bool IsSequential => ClassName == "Sequential";

    public List<GraphLayer> Layers { get; }

    public List<TensorRef> Inputs { get; }

    public List<TensorRef> Outputs { get; }

    public GraphLayer? Find(string name) => Layers.FirstOrDefault(l => l.Name == name);
}

/// <summary>
/// Reads a Keras architecture JSON (<c>model.to_json()</c>, a legacy HDF5 <c>model_config</c>, a <c>.keras</c>
/// <c>config.json</c> or a TensorFlow.js <c>model.json</c>) into an <see cref="ArchitectureSpec"/>: Sequential and
/// Functional models, Keras 1/2 nested-list inbound nodes and Keras 3 <c>args</c>/<c>kwargs</c> nodes, nested models,
/// shared layers. The graph is built by the same rules as Surgeon.Runtime's loader, so both compute the same
/// <see cref="Fingerprint"/>.
/// </summary>
internal static class ArchitectureParser
{
    private static readonly HashSet<string> s_modelClasses = new(StringComparer.Ordinal) { "Sequential", "Functional", "Model" };

    /// <summary>Parses <paramref name="text"/>; a malformed file gives an <see cref="ArchitectureResult.Error"/>.</summary>
    public static ArchitectureResult Parse(string path, string? sourceModel, string? text, CancellationToken ct)
    {
        if (text is null) return new ArchitectureResult(path, sourceModel, null, "the file could not be read");
        try
        {
            return new ArchitectureResult(path, sourceModel, ParseSpec(text, ct), null);
        }
        catch (JsonReadException e)
        {
            return new ArchitectureResult(path, sourceModel, null, "it is not valid JSON: " + e.Message);
        }
        catch (ArchitectureException e)
        {
            return new ArchitectureResult(path, sourceModel, null, e.Message);
        }
    }

    public static ArchitectureSpec ParseSpec(string text, CancellationToken ct)
    {
        var model = ParseGraph(text, out var version);
        ct.ThrowIfCancellationRequested();
        var shapes = new ShapeCalculator(model, null);
        var depths = new Dictionary<string, int>(StringComparer.Ordinal);
        var layers = new List<LayerInfo>(model.Layers.Count);
        foreach (var layer in model.Layers)
        {
            ct.ThrowIfCancellationRequested();
            var outputs = shapes.OutputShapes(layer.Name, 0);
            string shape;
            if (outputs is null) shape = "unknown";
            else if (outputs.Count == 1) shape = ShapeCalculator.Format(outputs[0]);
            else shape = "[" + string.Join(", ", outputs.Select(ShapeCalculator.Format)) + "]";
            layers.Add(new LayerInfo(
                layer.Name,
                layer.ClassName,
                ChannelRule.ChannelCount(layer.ClassName, layer.Config),
                shape,
                shapes.ParameterCount(layer),
                layer.Calls.Select(c => new CallInfo(c.ToEquatableArray())).ToEquatableArray(),
                Depth(model, layer.Name, depths, new HashSet<string>(StringComparer.Ordinal)),
                layer.IsSynthesized,
                Detail(layer)));
        }
        return new ArchitectureSpec(
            model.Name,
            model.ClassName,
            version,
            layers.ToEquatableArray(),
            model.Inputs.ToEquatableArray(),
            model.Outputs.ToEquatableArray(),
            Fingerprint.Of(model),
            Fingerprint.Of(model, includeWidths: false));
    }

    /// <summary>The graph of the top-level model in <paramref name="text"/>.</summary>
    public static GraphModel ParseGraph(string text, out string? kerasVersion)
    {
        if (JsonReader.Parse(text) is not JsonObject doc) throw new ArchitectureException("the JSON is not an object");
        var root = doc;
        if (doc["modelTopology"] is JsonObject topology)
        {
            root = topology["model_config"] as JsonObject ?? topology;
            kerasVersion = topology.String("keras_version") ?? doc.String("generatedBy");
        }
        else
        {
            kerasVersion = doc.String("keras_version");
        }
        if (!root.ContainsKey("class_name") || !root.ContainsKey("config"))
            throw new ArchitectureException("it is JSON but not a Keras architecture (no 'class_name' and 'config')");
        var major = kerasVersion is { Length: > 0 } v && char.IsDigit(v[0])
            && int.TryParse(v.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : 0;
        return new Reader(major).ParseModel(root);
    }

    private static int Depth(GraphModel model, string name, Dictionary<string, int> memo, HashSet<string> visiting)
    {
        if (memo.TryGetValue(name, out var known)) return known;
        if (!visiting.Add(name)) return 0;
        var depth = 0;
        var layer = model.Find(name);
        if (layer is not null)
        {
            foreach (var call in layer.Calls)
            {
                foreach (var t in call) depth = Math.Max(depth, Depth(model, t.Layer, memo, visiting) + 1);
            }
        }
        visiting.Remove(name);
        memo[name] = depth;
        return depth;
    }

    private static string? Detail(GraphLayer layer)
    {
        if (layer.Nested is { } nested)
            return string.Format(CultureInfo.InvariantCulture, "nested {0} model '{1}' with {2} layers", nested.ClassName, nested.Name, nested.Layers.Count);
        if ((layer.Config["layer"] as JsonObject)?.String("class_name") is { } wrapped) return "wraps a " + wrapped;
        if (layer.IsSynthesized) return "the implicit input of the Sequential model";
        return null;
    }

    private enum Dialect
    {
        Keras1,
        Keras2,
        Keras3,
    }

    /// <summary>The parsing rules, mirroring Surgeon.Runtime's ConfigParser.</summary>
    private sealed class Reader
    {
        private readonly int _kerasMajor;

        public Reader(int kerasMajor) => _kerasMajor = kerasMajor;

        public GraphModel ParseModel(JsonObject root)
        {
            var className = root.String("class_name") ?? throw new ArchitectureException("the model has no string 'class_name'");
            var configNode = root["config"];
            var config = configNode as JsonObject;
            JsonArray layerArray;
            if (configNode is JsonArray list) layerArray = list;
            else if (config?["layers"] is JsonArray configLayers) layerArray = configLayers;
            else if (config?["layers"] is { } notList) throw new ArchitectureException($"model '{className}': 'layers' is not a list");
            else if (config is not null)
                throw new ArchitectureException($"model '{config.String("name") ?? className}' is a subclassed {className} without a layer list; a surgery plan needs a Functional or Sequential model");
            else throw new ArchitectureException($"model '{className}' has no 'config' object");

            var name = config?.String("name") ?? className.ToLowerInvariant();
            var sequential = className == "Sequential";
            var dialect = DetectDialect(layerArray);
            var layers = new List<GraphLayer>(layerArray.Count + 1);
            GraphLayer? previous = null;
            for (var i = 0; i < layerArray.Count; i++)
            {
                if (layerArray[i] is not JsonObject entry) throw new ArchitectureException($"layer #{i} of model '{name}' is not a JSON object");
                var layerClass = entry.String("class_name") ?? throw new ArchitectureException($"layer #{i} of model '{name}' has no string 'class_name'");
                var layerConfig = entry["config"] as JsonObject ?? throw new ArchitectureException($"layer #{i} ({layerClass}) of model '{name}' has no 'config' object");
                var layerName = entry.String("name") ?? layerConfig.String("name")
                    ?? throw new ArchitectureException($"layer #{i} ({layerClass}) of model '{name}' has no name");
                List<List<TensorRef>> calls;
                if (sequential)
                {
                    if (i == 0 && layerClass != "InputLayer")
                    {
                        previous = SynthesizeInput(layerName, layerConfig);
                        layers.Add(previous);
                    }
                    calls = previous is null
                        ? new List<List<TensorRef>>()
                        : new List<List<TensorRef>> { new() { new TensorRef(previous.Name, 0, 0) } };
                }
                else
                {
                    calls = ParseCalls(entry["inbound_nodes"], layerName);
                }
                GraphModel? nested = null;
                if (s_modelClasses.Contains(layerClass) && (layerConfig["layers"] is JsonArray || entry["config"] is JsonArray))
                    nested = ParseModel(entry);
                var layer = new GraphLayer(layerName, layerClass, layerConfig, calls, nested, synthesized: false);
                layers.Add(layer);
                previous = layer;
            }

            var endpointOffsets = NormalizeNestedCallIndices(layers, dialect);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var layer in layers)
            {
                if (!names.Add(layer.Name)) throw new ArchitectureException($"two layers of model '{name}' are named '{layer.Name}'");
            }

            List<TensorRef> inputs, outputs;
            if (sequential)
            {
                inputs = layers.Count > 0 ? new List<TensorRef> { new(layers[0].Name, 0, 0) } : new List<TensorRef>();
                outputs = layers.Count > 0 ? new List<TensorRef> { new(layers[layers.Count - 1].Name, 0, 0) } : new List<TensorRef>();
            }
            else
            {
                inputs = ParseEndpoints(config?["input_layers"], "input_layers", name).Select(t => Shift(t, endpointOffsets)).ToList();
                outputs = ParseEndpoints(config?["output_layers"], "output_layers", name).Select(t => Shift(t, endpointOffsets)).ToList();
            }
            foreach (var layer in layers)
            {
                foreach (var call in layer.Calls)
                {
                    foreach (var t in call) CheckRef(t, names, layer.Name, name);
                }
            }
            foreach (var t in inputs.Concat(outputs)) CheckRef(t, names, null, name);
            return new GraphModel(className, name, layers, inputs, outputs);
        }

        private static void CheckRef(TensorRef t, HashSet<string> names, string? consumer, string model)
        {
            var who = consumer is null ? $"the inputs or outputs of model '{model}'" : $"layer '{consumer}'";
            if (!names.Contains(t.Layer)) throw new ArchitectureException($"{who} refer(s) to layer '{t.Layer}', which model '{model}' does not have");
            if (t.Node < 0 || t.Tensor < 0) throw new ArchitectureException($"{who}: tensor reference {t} has a negative index");
        }

        /// <summary>
        /// Keras numbers the calls of a nested model from 1 where the model has a construction call of its own; Surgeon
        /// numbers every layer's calls from 0 (see Surgeon.Runtime's ConfigParser.NormalizeNestedNodeIndices).
        /// </summary>
        private static Dictionary<string, int> NormalizeNestedCallIndices(List<GraphLayer> layers, Dialect dialect)
        {
            var callOffset = new Dictionary<string, int>(StringComparer.Ordinal);
            var endpointOffset = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var l in layers)
            {
                if (l.Nested is not { } nested) continue;
                var hasConstructionCall = !nested.IsSequential || nested.Layers.FirstOrDefault()?.ClassName == "InputLayer";
                if (!hasConstructionCall) continue;
                if (dialect != Dialect.Keras3) callOffset[l.Name] = 1;
                if (dialect != Dialect.Keras3 || !nested.IsSequential) endpointOffset[l.Name] = 1;
            }
            if (callOffset.Count > 0)
            {
                foreach (var l in layers)
                {
                    l.Calls = l.Calls.Select(c => c.Select(t => Shift(t, callOffset)).ToList()).ToList();
                }
            }
            return endpointOffset;
        }

        private static TensorRef Shift(TensorRef t, Dictionary<string, int> offsets) =>
            offsets.TryGetValue(t.Layer, out var o) && t.Node >= o ? new TensorRef(t.Layer, t.Node - o, t.Tensor) : t;

        private Dialect DetectDialect(JsonArray layers)
        {
            foreach (var l in layers.Items)
            {
                if (l is JsonObject o && o["inbound_nodes"] is JsonArray nodes && nodes.Count > 0)
                {
                    if (nodes[0] is JsonObject) return Dialect.Keras3;
                    if (nodes[0] is JsonArray first && first.Count > 0 && first[0] is JsonArray t)
                        return t.Count >= 4 ? Dialect.Keras2 : Dialect.Keras1;
                }
            }
            return _kerasMajor switch
            {
                1 => Dialect.Keras1,
                >= 3 => Dialect.Keras3,
                _ => Dialect.Keras2,
            };
        }

        private static GraphLayer SynthesizeInput(string firstLayer, JsonObject firstConfig)
        {
            var config = new JsonObject();
            var shape = firstConfig["batch_input_shape"] ?? firstConfig["batch_shape"];
            if (shape is null && firstConfig["input_shape"] is JsonArray inputShape)
            {
                var s = new JsonArray();
                s.Items.Add(JsonNull.Instance);
                s.Items.AddRange(inputShape.Items);
                shape = s;
            }
            if (shape is null && firstConfig["input_dim"] is JsonNumber dim)
            {
                var s = new JsonArray();
                s.Items.Add(JsonNull.Instance);
                s.Items.Add(dim);
                shape = s;
            }
            if (shape is not null) config.Add("batch_input_shape", shape);
            var name = firstLayer + "_input";
            config.Add("name", new JsonString(name));
            return new GraphLayer(name, "InputLayer", config, new List<List<TensorRef>>(), null, synthesized: true);
        }

        private static List<List<TensorRef>> ParseCalls(JsonNode? inbound, string layer)
        {
            var result = new List<List<TensorRef>>();
            if (inbound is null || inbound is JsonNull) return result;
            if (inbound is not JsonArray nodes) throw new ArchitectureException($"layer '{layer}': 'inbound_nodes' is not a list");
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
                        foreach (var item in k2.Items) refs.Add(ParseTriple(item, layer));
                        // tf.keras writes tensors passed as keyword arguments inside the kwargs dict of each entry.
                        if (k2.Count > 0 && k2[0] is JsonArray first && first.Count >= 4 && first[3] is JsonObject kwargs)
                        {
                            foreach (var pair in kwargs.Properties)
                            {
                                if (IsTensorKeyword(pair.Key)) CollectKeyword(pair.Value, refs, layer);
                            }
                        }
                        break;
                    default:
                        throw new ArchitectureException($"layer '{layer}': inbound node #{i} is neither a list nor an object");
                }
                result.Add(refs);
            }
            return result;
        }

        private static bool IsTensorKeyword(string key) =>
            key is "value" or "key" or "query" or "initial_state" or "constants" or "attention_mask";

        private static void CollectKeyword(JsonNode value, List<TensorRef> refs, string layer)
        {
            if (value is JsonArray a && a.Count >= 3 && a[0] is JsonString) refs.Add(ParseTriple(a, layer));
            else if (value is JsonArray list)
            {
                foreach (var item in list.Items) CollectKeyword(item, refs, layer);
            }
        }

        private static void CollectKerasTensors(JsonNode? node, List<TensorRef> refs, string layer)
        {
            switch (node)
            {
                case JsonObject o when o.String("class_name") == "__keras_tensor__":
                    refs.Add(ParseTriple((o["config"] as JsonObject)?["keras_history"], layer));
                    break;
                case JsonObject o:
                    foreach (var pair in o.Properties) CollectKerasTensors(pair.Value, refs, layer);
                    break;
                case JsonArray a:
                    foreach (var item in a.Items) CollectKerasTensors(item, refs, layer);
                    break;
            }
        }

        private static TensorRef ParseTriple(JsonNode? item, string? layer)
        {
            if (item is JsonArray t && t.Count >= 3 && t[0].AsString() is { } name && t[1].AsInt() is { } node && t[2].AsInt() is { } tensor)
                return new TensorRef(name, node, tensor);
            var where = layer is null ? "" : $"layer '{layer}': ";
            throw new ArchitectureException($"{where}malformed tensor reference (expected [layer, node_index, tensor_index])");
        }

        private static List<TensorRef> ParseEndpoints(JsonNode? node, string key, string model)
        {
            if (node is not JsonArray list) throw new ArchitectureException($"functional model '{model}' has no '{key}' list");
            if (list.Count >= 3 && list[0] is JsonString) return new List<TensorRef> { ParseTriple(list, null) };
            return list.Items.Select(item => ParseTriple(item, null)).ToList();
        }
    }
}
