using System.Text.Json.Nodes;
using Surgeon.Shapes;
using static TorchSharp.torch;

namespace Surgeon;

internal enum LayerEditKind
{
    InsertBefore,
    InsertAfter,
    Replace,
}

/// <summary>An insertion or replacement; <paramref name="Calls"/> limits an insertion to some calls of a shared layer (null: all).</summary>
internal sealed record LayerEdit(LayerEditKind Kind, string Target, LayerSpec Spec, IReadOnlyList<int>? Calls = null);

/// <summary>
/// Inserts a layer before or after another, or puts one in place of another. Unlike keras-surgeon, an insertion before
/// a layer changes only that layer's input (not its siblings'), and every edit is shape-checked: the new layer must
/// produce exactly the shape its consumers had, so the rest of the model and its weights stay valid.
/// </summary>
internal static class LayerEditing
{
    /// <summary>Config keys by which a Sequential's first layer declares the model's input.</summary>
    private static readonly string[] s_declaredInput = { "batch_input_shape", "batch_shape", "input_shape", "input_dim" };

    /// <summary>A new model with <paramref name="edit"/> applied (weights cloned); <paramref name="model"/> is not changed.</summary>
    public static KerasModel Apply(KerasModel model, LayerEdit edit)
    {
        var target = model[edit.Target];
        var spec = edit.Spec;
        var shapes = ShapeInference.For(model);
        var name = spec.Name ?? FreeName(model, spec.ClassName);
        if (model.FindLayer(name) is not null && !(edit.Kind == LayerEditKind.Replace && name == edit.Target))
            throw new SurgeonException($"Cannot add layer '{name}' ({spec.ClassName}): model '{model.Name}' already has a layer of that name.");
        // A Sequential saved without an InputLayer declares its input shape on the first layer: a new first layer takes it over.
        var oldFirst = !model.IsSequential ? null
            : edit.Kind == LayerEditKind.InsertBefore && target.InboundNodes.Count > 0 && model[target.InboundNodes[0].Inputs[0].Layer].IsSynthesized ? target
            : edit.Kind == LayerEditKind.InsertAfter && target.IsSynthesized ? model.Layers.FirstOrDefault(l => l.InboundNodes.Count > 0 && l.InboundNodes[0].Inputs[0].Layer == target.Name)
            : null;
        if (target.InboundNodes.Count == 0 && edit.Kind != LayerEditKind.InsertAfter)
            throw new SurgeonException($"Layer '{target.Name}' ({target.ClassName}) has no inputs; a layer can only be inserted after it.");
        var nodeCount = Math.Max(1, target.InboundNodes.Count);

        // The new layer's calls (one per call of the target: a shared target gets one shared new layer) and what it must output.
        var newNodes = new List<KerasNode>();
        var expected = new List<IReadOnlyList<int?[]>>(); // per call of the new layer: the shape of each output
        var consumerMap = new Dictionary<TensorRef, TensorRef>(); // for every consumer (InsertAfter, Replace)
        IReadOnlyList<KerasNode>? targetNodes = null;              // the target's rewired calls (InsertBefore)
        // An insertion may be limited to some calls of a shared target: the new layer's calls are numbered from 0.
        var selected = edit.Calls ?? Enumerable.Range(0, nodeCount).ToArray();
        for (var n = 0; n < nodeCount; n++)
        {
            var j = ((IList<int>)selected).IndexOf(n);
            if (j < 0) continue;
            var outShapes = shapes.OutputShapes(target.Name, n);
            switch (edit.Kind)
            {
                case LayerEditKind.InsertBefore:
                    {
                        var inputs = target.InboundNodes[n].Inputs;
                        if (inputs.Count != 1)
                            throw new SurgeonException($"Layer '{target.Name}' is called on {inputs.Count} inputs; a layer can only be inserted before a layer with one input.");
                        newNodes.Add(new KerasNode(new[] { inputs[0] }, null));
                        expected.Add(new[] { ShapeOf(shapes, inputs[0], target) });
                        break;
                    }
                case LayerEditKind.InsertAfter:
                    if (outShapes is null || outShapes.Count != 1)
                        throw new SurgeonException($"Layer '{target.Name}' ({target.ClassName}) has {(outShapes is null ? "an unknown number of" : outShapes.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))} outputs; a layer can only be inserted after a layer with one output.");
                    newNodes.Add(new KerasNode(new[] { new TensorRef(target.Name, n) }, null));
                    expected.Add(new[] { outShapes[0] });
                    consumerMap[new TensorRef(target.Name, n)] = new TensorRef(name, j);
                    break;
                case LayerEditKind.Replace:
                    if (outShapes is null)
                        throw new SurgeonException($"The output shape of layer '{target.Name}' ({target.ClassName}) is unknown, so a replacement cannot be checked against it.");
                    newNodes.Add(new KerasNode(target.InboundNodes[n].Inputs, target.InboundNodes[n].Raw?.DeepClone()));
                    // Every output (an RNN's states too) must come out of the new layer with its shape.
                    expected.Add(outShapes);
                    if (name != target.Name)
                        for (var t = 0; t < outShapes.Count; t++) consumerMap[new TensorRef(target.Name, n, t)] = new TensorRef(name, n, t);
                    break;
            }
        }
        if (edit.Kind == LayerEditKind.InsertBefore)
        {
            targetNodes = target.InboundNodes.Select((node, n) =>
            {
                var j = ((IList<int>)selected).IndexOf(n);
                if (j < 0) return node;
                var raw = node.Raw?.DeepClone();
                Rewiring.Rewrite(raw, node.Inputs[0], new TensorRef(name, j));
                return new KerasNode(new[] { new TensorRef(name, j) }, raw);
            }).ToArray();
        }

        var inputShape = edit.Kind == LayerEditKind.InsertAfter ? expected[0][0] : ShapeOf(shapes, newNodes[0].Inputs[0], target);
        var created = new List<Tensor>();
        try
        {
            var entry = Entry(model, spec, name);
            JsonObject? oldFirstEntry = null;
            if (oldFirst is not null)
            {
                var config = (JsonObject)entry["config"]!;
                oldFirstEntry = (JsonObject)oldFirst.Entry.DeepClone();
                var oldConfig = (JsonObject)oldFirstEntry["config"]!;
                foreach (var key in s_declaredInput)
                {
                    if (oldConfig[key] is { } declared && !config.ContainsKey(key)) config[key] = declared.DeepClone();
                    oldConfig.Remove(key);
                }
            }
            if (edit.Kind == LayerEditKind.Replace)
            {
                // A Sequential's first layer declares the model's input shape; the replacement takes that over.
                var config = (JsonObject)entry["config"]!;
                foreach (var key in s_declaredInput)
                    if (target.ConfigNode[key] is { } declared && !config.ContainsKey(key)) config[key] = declared.DeepClone();
            }
            var weights = Weights(spec, name, (JsonObject)entry["config"]!, inputShape, newNodes[0].Inputs.Skip(1).Select(r => (int?[]?)ShapeOf(shapes, r, target)).ToArray(), model.Device, created);
            var added = new KerasLayer(entry, spec.ClassName, name, newNodes, weights, null, false);

            var layers = new List<KerasLayer>();
            foreach (var l in model.Layers)
            {
                if (edit.Kind == LayerEditKind.InsertBefore && l == target) layers.Add(added);
                if (edit.Kind == LayerEditKind.Replace && l == target)
                {
                    layers.Add(added);
                    continue;
                }
                var nodes = l == target && targetNodes is not null ? targetNodes : Rewiring.Rewire(l.InboundNodes, consumerMap);
                var copy = Rewiring.CopyLayer(l, nodes, created);
                if (l == oldFirst) copy = new KerasLayer(oldFirstEntry!, copy.ClassName, copy.Name, copy.InboundNodes, copy.Weights, copy.NestedModel, copy.IsSynthesized) { ArchiveGroupNames = copy.ArchiveGroupNames };
                layers.Add(copy);
                if (edit.Kind == LayerEditKind.InsertAfter && l == target) layers.Add(added);
            }
            var root = model.Root;
            var outputs = model.Outputs.Select(o => consumerMap.TryGetValue(o, out var to) ? to : o).ToArray();
            if (!outputs.SequenceEqual(model.Outputs) && !model.IsSequential)
            {
                root = (JsonObject)model.Root.DeepClone();
                Rewiring.Rewrite(root["config"]?["output_layers"], consumerMap);
            }
            var result = model.Derive(layers, outputs, root);
            Check(result, name, expected, spec, target);
            return result;
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }

    /// <summary>The new layer must output, at every call, the shape its consumers had (else their weights no longer fit).</summary>
    private static void Check(KerasModel result, string name, List<IReadOnlyList<int?[]>> expected, LayerSpec spec, KerasLayer target)
    {
        var shapes = ShapeInference.For(result);
        for (var n = 0; n < expected.Count; n++)
        {
            var got = shapes.OutputShapes(name, n);
            if (got is null)
                throw new SurgeonException($"The output shape of new layer '{name}' ({spec.ClassName}) cannot be worked out; Surgeon needs it to check the edit at layer '{target.Name}'.");
            if (got.Count != expected[n].Count || got.Where((g, t) => !g.SequenceEqual(expected[n][t])).Any())
                throw new SurgeonException($"New layer '{name}' ({spec.ClassName}) at layer '{target.Name}' outputs {Describe(got)} where {Describe(expected[n])} is needed; the layers after it would no longer fit.");
        }
    }

    private static string Describe(IReadOnlyList<int?[]> shapes) => string.Join(", ", shapes.Select(ModelSummary.Format));

    private static int?[] ShapeOf(ShapeInference shapes, TensorRef t, KerasLayer at) =>
        shapes.OutputShapes(t.Layer, t.NodeIndex) is { } o && t.TensorIndex < o.Count ? o[t.TensorIndex]
            : throw new SurgeonException($"The shape of the input of layer '{at.Name}' (from '{t.Layer}') is unknown; the edit cannot be checked.");

    /// <summary>A layer entry in the model's dialect.</summary>
    private static JsonObject Entry(KerasModel model, LayerSpec spec, string name)
    {
        var config = (JsonObject)spec.Config.DeepClone();
        config["name"] = name;
        if (!config.ContainsKey("trainable")) config["trainable"] = true;
        if (!config.ContainsKey("dtype")) config["dtype"] = "float32";
        var entry = model.Dialect == KerasDialect.Keras3
            ? new JsonObject { ["module"] = "keras.layers", ["class_name"] = spec.ClassName, ["config"] = config, ["registered_name"] = null }
            : new JsonObject { ["class_name"] = spec.ClassName, ["config"] = config };
        if (!model.IsSequential)
        {
            // Functional entries carry the name and the calls beside the config, as Keras writes them.
            entry["name"] = name;
            entry["inbound_nodes"] = new JsonArray();
        }
        return entry;
    }

    private static IReadOnlyList<KerasWeight> Weights(LayerSpec spec, string name, JsonObject config, int?[] input, IReadOnlyList<int?[]?> others, Device device, List<Tensor> created)
    {
        var needed = WeightFactory.CheckedSpecs(spec.ClassName, config, input, name, others);
        if (spec.Weights is { } given)
        {
            var unknown = given.Keys.Except(needed.Select(w => w.Name)).ToArray();
            if (unknown.Length > 0)
                throw new SurgeonException($"New layer '{name}' ({spec.ClassName}) has no weight(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))}; it has {(needed.Count == 0 ? "none" : string.Join(", ", needed.Select(w => $"'{w.Name}'")))}.");
        }
        using var generator = new Generator((ulong)spec.Seed);
        var weights = new List<KerasWeight>();
        foreach (var (w, shape, init) in needed)
        {
            Tensor value;
            if (spec.Weights is { } g && g.TryGetValue(w, out var t))
            {
                if (!t.shape.SequenceEqual(shape))
                    throw new SurgeonException($"New layer '{name}' ({spec.ClassName}): weight '{w}' has shape [{string.Join(", ", t.shape)}] but the layer needs [{string.Join(", ", shape)}] at this position.");
                value = t.to_type(ScalarType.Float32).to(device).clone();
            }
            else
            {
                using var fresh = WeightFactory.Create(init, shape, generator);
                value = fresh.to(device).clone();
            }
            created.Add(value);
            weights.Add(new KerasWeight(w, value, LayerCatalog.IsTrainableVariable(spec.ClassName, w), null, null));
        }
        return weights;
    }

    /// <summary>Keras's default naming: the class in snake case, then <c>_1</c>, <c>_2</c>... until free.</summary>
    private static string FreeName(KerasModel model, string className)
    {
        var stem = IO.ConfigParser.SnakeCase(className);
        var name = stem;
        for (var i = 1; model.FindLayer(name) is not null; i++) name = $"{stem}_{i}";
        return name;
    }
}

/// <summary>Rewiring and copying of layers, shared by layer deletion and the layer edits.</summary>
internal static class Rewiring
{
    /// <summary>The nodes with every input in <paramref name="map"/> replaced (serialized forms too); unchanged nodes are reused.</summary>
    public static IReadOnlyList<KerasNode> Rewire(IReadOnlyList<KerasNode> nodes, IReadOnlyDictionary<TensorRef, TensorRef> map)
    {
        if (map.Count == 0) return nodes;
        return nodes.Select(node =>
        {
            if (!node.Inputs.Any(map.ContainsKey)) return node;
            var raw = node.Raw?.DeepClone();
            Rewrite(raw, map);
            return new KerasNode(node.Inputs.Select(i => map.TryGetValue(i, out var to) ? to : i).ToArray(), raw);
        }).ToArray();
    }

    /// <summary>
    /// A copy of <paramref name="layer"/> called as <paramref name="nodes"/>, with cloned weights (added to
    /// <paramref name="created"/>, so a surgery that fails part-way frees them).
    /// </summary>
    public static KerasLayer CopyLayer(KerasLayer layer, IReadOnlyList<KerasNode> nodes, List<Tensor> created)
    {
        var weights = layer.Weights.Select(w =>
        {
            var copy = w.Value.clone();
            created.Add(copy);
            return new KerasWeight(w.Name, copy, w.Trainable, w.StoredName, w.ArchivePath);
        }).ToArray();
        return new KerasLayer(layer.Entry, layer.ClassName, layer.Name, nodes, weights, CopyNested(layer, created), layer.IsSynthesized) { ArchiveGroupNames = layer.ArchiveGroupNames };
    }

    /// <summary>A copy of a nested model used as a layer (carried unchanged), its weights added to <paramref name="created"/>.</summary>
    public static KerasModel? CopyNested(KerasLayer layer, List<Tensor> created)
    {
        if (layer.NestedModel is null) return null;
        var copy = ModelCopy.Map(layer.NestedModel, t => t.clone());
        created.AddRange(copy.AllWeights().Select(x => x.Weight.Value));
        return copy;
    }

    /// <summary>Replaces references to <paramref name="from"/> in a serialized node or endpoint list (either dialect) with <paramref name="to"/>.</summary>
    public static void Rewrite(JsonNode? node, TensorRef from, TensorRef to) => Rewrite(node, new Dictionary<TensorRef, TensorRef> { [from] = to });

    /// <summary>
    /// Replaces every reference found in <paramref name="map"/> in a serialized node or endpoint list (either dialect),
    /// in one pass: a renumbering such as 2 to 1 and 1 to 0 does not chain.
    /// </summary>
    public static void Rewrite(JsonNode? node, IReadOnlyDictionary<TensorRef, TensorRef> map)
    {
        switch (node)
        {
            case JsonArray a when AsRef(a) is { } from && map.TryGetValue(from, out var to):
                a[0] = to.Layer;
                a[1] = to.NodeIndex;
                a[2] = to.TensorIndex;
                for (var i = 3; i < a.Count; i++) Rewrite(a[i], map);
                break;
            case JsonArray a:
                foreach (var item in a) Rewrite(item, map);
                break;
            case JsonObject o:
                foreach (var (_, value) in o) Rewrite(value, map);
                break;
        }
    }

    /// <summary>A serialized tensor reference: <c>[layer, node, tensor, ...]</c> (Keras 1/2 nodes, Keras 3 keras_history, endpoint lists).</summary>
    private static TensorRef? AsRef(JsonArray a) =>
        a.Count >= 3 && a[0] is JsonValue v && v.TryGetValue(out string? layer) && a[1] is JsonValue n && n.TryGetValue(out int node) && a[2] is JsonValue t && t.TryGetValue(out int tensor)
            ? new TensorRef(layer, node, tensor) : null;
}
