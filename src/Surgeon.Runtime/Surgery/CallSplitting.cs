using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// Gives some calls of a shared layer to a copy of it (same config, its own copy of the weights), so that a job on
/// those calls (node indices) leaves the other calls untouched. The copy's calls are numbered from 0 in their original
/// order, the original keeps the rest (renumbered), and every consumer and model output follows.
/// </summary>
internal static class CallSplitting
{
    public static KerasModel Apply(KerasModel model, string name, IReadOnlyCollection<int> calls, string copyName)
    {
        var layer = model[name];
        var selected = calls.Order().ToArray();
        var kept = Enumerable.Range(0, layer.InboundNodes.Count).Except(selected).ToArray();
        var map = new Dictionary<TensorRef, TensorRef>();
        foreach (var r in model.Layers.SelectMany(l => l.InboundNodes).SelectMany(n => n.Inputs).Concat(model.Outputs).Where(r => r.Layer == name).Distinct())
        {
            var j = Array.IndexOf(selected, r.NodeIndex);
            map[r] = j >= 0 ? new TensorRef(copyName, j, r.TensorIndex) : r with { NodeIndex = Array.IndexOf(kept, r.NodeIndex) };
        }

        var created = new List<Tensor>();
        try
        {
            var entry = (JsonObject)layer.Entry.DeepClone();
            if (entry.ContainsKey("name")) entry["name"] = copyName;
            if (entry["config"] is JsonObject config) config["name"] = copyName;
            var weights = layer.Weights.Select(w =>
            {
                var copy = w.Value.clone();
                created.Add(copy);
                return new KerasWeight(w.Name, copy, w.Trainable, null, null);
            }).ToArray();
            var split = new KerasLayer(entry, layer.ClassName, copyName, selected.Select(n => layer.InboundNodes[n]).ToArray(), weights, null, false);

            var layers = new List<KerasLayer>();
            foreach (var l in model.Layers)
            {
                var nodes = l == layer ? kept.Select(n => layer.InboundNodes[n]).ToArray() : Rewiring.Rewire(l.InboundNodes, map);
                layers.Add(Rewiring.CopyLayer(l, nodes, created));
                if (l == layer) layers.Add(split);
            }
            var outputs = model.Outputs.Select(o => map.GetValueOrDefault(o, o)).ToArray();
            var root = model.Root;
            if (!outputs.SequenceEqual(model.Outputs))
            {
                root = (JsonObject)model.Root.DeepClone();
                Rewiring.Rewrite(root["config"]?["output_layers"], map);
            }
            return model.Derive(layers, outputs, root);
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }
}
