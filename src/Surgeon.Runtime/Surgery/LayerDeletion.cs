using System.Text.Json.Nodes;
using Surgeon.Shapes;

namespace Surgeon;

/// <summary>
/// Removes single-input layers whose output has the shape of their input (Dropout, BatchNormalization, an activation,
/// a same-size Dense...): every consumer of the layer, and a model output on it, is reconnected to the layer's input.
/// </summary>
internal static class LayerDeletion
{
    public static KerasModel Apply(KerasModel model, IReadOnlyCollection<string> names)
    {
        var shapes = ShapeInference.For(model);
        var replace = new Dictionary<TensorRef, TensorRef>();
        foreach (var name in names)
        {
            var layer = model[name];
            if (layer.ClassName == "InputLayer") throw new SurgeonException($"Layer '{name}' is an input layer; it cannot be deleted.");
            for (var n = 0; n < layer.InboundNodes.Count; n++)
            {
                var inputs = layer.InboundNodes[n].Inputs;
                if (inputs.Count != 1)
                    throw new SurgeonException($"Layer '{name}' is called on {inputs.Count} inputs; only a layer with one input can be deleted (its consumers take that input instead).");
                var inShape = shapes.OutputShapes(inputs[0].Layer, inputs[0].NodeIndex)?[inputs[0].TensorIndex];
                var outShapes = shapes.OutputShapes(name, n);
                if (outShapes is null || inShape is null || outShapes.Count != 1 || !outShapes[0].SequenceEqual(inShape))
                    throw new SurgeonException($"Layer '{name}' changes the shape of its input ({Describe(inShape)} to {Describe(outShapes?[0])}); deleting it would break layer(s) consuming it.");
                var target = inputs[0];
                while (replace.TryGetValue(target, out var further)) target = further;
                replace[new TensorRef(name, n)] = target;
            }
        }
        // Chains of deleted layers resolve to the first surviving tensor.
        TensorRef Resolve(TensorRef t)
        {
            while (replace.TryGetValue(t, out var next)) t = next;
            return t;
        }
        var resolved = replace.Keys.ToDictionary(t => t, Resolve);
        // A deleted model output hands the output over to its input (not to a model input itself: nothing would be computed).
        var outputs = model.Outputs.Select(o => resolved.GetValueOrDefault(o, o)).ToArray();
        if (outputs.Where((o, i) => !o.Equals(model.Outputs[i]) && model[o.Layer].ClassName == "InputLayer").Select(o => o.Layer).FirstOrDefault() is { } input)
            throw new SurgeonException($"Deleting layer(s) {string.Join(", ", names.Select(n => $"'{n}'"))} would make model input '{input}' a model output with nothing computed; keep at least one layer.");
        var root = model.Root;
        if (!outputs.SequenceEqual(model.Outputs))
        {
            root = (JsonObject)model.Root.DeepClone();
            Rewiring.Rewrite(root["config"]?["output_layers"], resolved);
        }

        var created = new List<TorchSharp.torch.Tensor>();
        try
        {
            var layers = model.Layers.Where(l => !names.Contains(l.Name))
                .Select(l => Rewiring.CopyLayer(l, Rewiring.Rewire(l.InboundNodes, resolved), created)).ToList();
            return model.Derive(layers, outputs, root);
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }

    private static string Describe(int?[]? shape) => shape is null ? "an unknown shape" : ModelSummary.Format(shape);
}
