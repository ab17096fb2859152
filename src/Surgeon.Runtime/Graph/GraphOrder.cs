namespace Surgeon;

/// <summary>
/// The order in which Keras 3 lists a Functional model's layers (<c>model.layers</c>) after rebuilding it:
/// by decreasing depth from the outputs, ties broken by first visit in a depth-first walk from the outputs.
/// Keras 3 names weight groups in <c>.keras</c> files by class and position in this order.
/// </summary>
internal static class GraphOrder
{
    /// <summary>
    /// Lists a Functional model's layers in the order Keras 3 rebuilds them (<see cref="KerasLayers"/>): a <c>.keras</c>
    /// file names weight groups by that order, and readers (ours and Keras's) match them to the config's order.
    /// </summary>
    public static KerasModel InKerasOrder(KerasModel model)
    {
        if (model.IsSequential) return model;
        var order = KerasLayers(model);
        if (order.SequenceEqual(model.Layers)) return model;
        var layers = order.Concat(model.Layers.Where(l => !order.Contains(l))).ToList();
        // Same layers and weights in a new order: the first model object is dropped without disposing what it shares.
        return model.Derive(layers);
    }

    /// <summary>The model's layers in Keras 3's <c>model.layers</c> order (a Sequential's without its InputLayer).</summary>
    public static IReadOnlyList<KerasLayer> KerasLayers(KerasModel model)
    {
        if (model.IsSequential) return model.Layers.Where(l => l.ClassName != "InputLayer").ToList();
        var finished = new HashSet<(string, int)>();
        var inProgress = new HashSet<(string, int)>();
        var order = new List<(string Layer, int Node)>();
        var indices = new Dictionary<string, int>(StringComparer.Ordinal);
        var inputs = new HashSet<TensorRef>(model.Inputs);

        void Visit(TensorRef t)
        {
            var key = (t.Layer, t.NodeIndex);
            if (finished.Contains(key)) return;
            if (!inProgress.Add(key)) throw new InvalidOperationException($"the graph has a cycle through layer '{t.Layer}'.");
            indices.TryAdd(t.Layer, indices.Count);
            var layer = model[t.Layer];
            if (!inputs.Contains(t) && t.NodeIndex < layer.InboundNodes.Count)
            {
                foreach (var input in layer.InboundNodes[t.NodeIndex].Inputs) Visit(input);
            }
            finished.Add(key);
            inProgress.Remove(key);
            order.Add(key);
        }

        foreach (var output in model.Outputs) Visit(output);

        var nodeDepth = new Dictionary<(string, int), int>();
        var layerDepth = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            var depth = nodeDepth.TryGetValue(node, out var d) ? d : 0;
            depth = Math.Max(depth, layerDepth.TryGetValue(node.Layer, out var ld) ? ld : 0);
            layerDepth[node.Layer] = depth;
            nodeDepth[node] = depth;
            var layer = model[node.Layer];
            if (inputs.Contains(new TensorRef(node.Layer, node.Node)) || node.Node >= layer.InboundNodes.Count) continue;
            foreach (var parent in layer.InboundNodes[node.Node].Inputs)
            {
                var key = (parent.Layer, parent.NodeIndex);
                nodeDepth[key] = Math.Max(depth + 1, nodeDepth.TryGetValue(key, out var pd) ? pd : 0);
            }
        }
        foreach (var input in model.Inputs)
        {
            if (!layerDepth.ContainsKey(input.Layer))
            {
                layerDepth[input.Layer] = 0;
                indices[input.Layer] = -1;
            }
        }
        return layerDepth
            .GroupBy(kv => kv.Value)
            .OrderByDescending(g => g.Key)
            .SelectMany(g => g.Select(kv => kv.Key).OrderBy(name => indices[name]))
            .Select(name => model[name])
            .ToList();
    }
}
