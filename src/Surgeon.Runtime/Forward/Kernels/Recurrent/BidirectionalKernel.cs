using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// Bidirectional: the wrapped RNN runs forward and, as a second layer with go_backwards toggled (or the saved
/// backward_layer config), backward; with return_sequences the backward output is flipped back to input order. Outputs
/// are merged by merge_mode (concat on the last axis, sum, mul, ave; none returns both); return_state appends the
/// forward states, then the backward ones. As in Keras 2 and 3, both RNNs output zeros at masked steps when they
/// return sequences (zero_output_for_mask = return_sequences).
/// </summary>
internal sealed class BidirectionalKernel : LayerKernel
{
    private readonly LayerKernel _forward;
    private readonly LayerKernel _backward;
    private readonly string? _mergeMode;
    private readonly bool _returnSequences;
    private readonly bool _returnState;
    private readonly int _timeAxis;

    public BidirectionalKernel(KerasLayer layer, ForwardContext context) : base(layer)
    {
        var c = layer.ConfigNode;
        _mergeMode = c.ContainsKey("merge_mode") ? String(c, "merge_mode") : "concat";
        if (_mergeMode is not (null or "concat" or "sum" or "mul" or "ave"))
            throw new SurgeonException($"Layer '{layer.Name}' (Bidirectional) has merge_mode '{_mergeMode}'; Keras knows concat, sum, mul, ave and None.");
        var (forwardClass, forwardConfig) = WrappedLayer.Read(layer, "layer");
        string backwardClass;
        JsonObject backwardConfig;
        if (c["backward_layer"] is JsonObject)
        {
            (backwardClass, backwardConfig) = WrappedLayer.Read(layer, "backward_layer");
        }
        else
        {
            (backwardClass, backwardConfig) = (forwardClass, (JsonObject)forwardConfig.DeepClone());
            backwardConfig["go_backwards"] = !Bool(forwardConfig, "go_backwards", false);
        }
        foreach (var (cls, config) in new[] { (forwardClass, forwardConfig), (backwardClass, backwardConfig) })
        {
            if (Bool(config, "stateful", false))
                throw new SurgeonException($"Layer '{layer.Name}' (Bidirectional) wraps a stateful {cls} (stateful=True): its state carries over between batches, which Surgeon does not model; re-create it with stateful=False to run it.");
            if (context.KerasMajorVersion >= 2) config["zero_output_for_mask"] = Bool(config, "return_sequences", false);
        }
        _returnSequences = Bool(forwardConfig, "return_sequences", false);
        _returnState = Bool(forwardConfig, "return_state", false);
        _timeAxis = Bool(forwardConfig, "time_major", false) ? 0 : 1;
        if (Bool(backwardConfig, "return_sequences", false) != _returnSequences || Bool(backwardConfig, "return_state", false) != _returnState)
            throw new SurgeonException($"Layer '{layer.Name}' (Bidirectional) has forward and backward layers that differ in return_sequences or return_state.");

        var innerName = forwardConfig["name"].AsString();
        var (forwardWeights, backwardWeights) = SplitWeights(layer, innerName);
        _forward = KernelFactory.Create(WrappedLayer.Create(layer, layer.Name + "/forward", forwardClass, forwardConfig, forwardWeights), context);
        try
        {
            _backward = KernelFactory.Create(WrappedLayer.Create(layer, layer.Name + "/backward", backwardClass, backwardConfig, backwardWeights), context);
        }
        catch
        {
            _forward.Dispose();
            throw;
        }
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        KernelInputs forwardInputs = inputs, backwardInputs = inputs;
        if (inputs.Count > 1)
        {
            // initial_state: the first half for the forward layer, the second half for the backward one.
            var states = inputs.Tensors.Skip(1).ToArray();
            if (states.Length % 2 != 0)
                throw new SurgeonException($"Layer '{Layer.Name}' (Bidirectional) was called with {states.Length} initial state tensors; it needs as many for each direction.");
            var half = states.Length / 2;
            forwardInputs = new KernelInputs(new[] { inputs[0] }.Concat(states.Take(half)).ToArray(), inputs.Masks.Take(1).ToArray());
            backwardInputs = new KernelInputs(new[] { inputs[0] }.Concat(states.Skip(half)).ToArray(), inputs.Masks.Take(1).ToArray());
        }
        var y = _forward.Forward(forwardInputs, context).Tensors;
        var yRev = _backward.Forward(backwardInputs, context).Tensors;
        var forwardOut = y[0];
        var backwardOut = _returnSequences ? yRev[0].flip(_timeAxis) : yRev[0];
        var outputs = new List<Tensor>();
        switch (_mergeMode)
        {
            case "concat":
                outputs.Add(cat(new[] { forwardOut, backwardOut }, -1));
                break;
            case "sum":
                outputs.Add(forwardOut + backwardOut);
                break;
            case "ave":
                outputs.Add((forwardOut + backwardOut) / 2);
                break;
            case "mul":
                outputs.Add(forwardOut * backwardOut);
                break;
            default:
                outputs.Add(forwardOut);
                outputs.Add(backwardOut);
                break;
        }
        if (_returnState)
        {
            outputs.AddRange(y.Skip(1));
            outputs.AddRange(yRev.Skip(1));
        }
        return new KernelOutputs(outputs, _returnSequences ? inputs.Mask : null);
    }

    /// <summary>
    /// The wrapper's weights for each direction under the inner layer's short names: "forward/kernel" gives the
    /// forward layer's "kernel". Keras 1 named them "forward_&lt;inner&gt;_W_i" (no scope): those are mapped too.
    /// </summary>
    private static (List<KerasWeight> Forward, List<KerasWeight> Backward) SplitWeights(KerasLayer layer, string? innerName)
    {
        var forward = new List<KerasWeight>();
        var backward = new List<KerasWeight>();
        foreach (var w in layer.Weights)
        {
            var (side, rest) = w.Name.StartsWith("forward/", StringComparison.Ordinal) ? (forward, w.Name["forward/".Length..])
                : w.Name.StartsWith("backward/", StringComparison.Ordinal) ? (backward, w.Name["backward/".Length..])
                : w.Name.StartsWith("forward_", StringComparison.Ordinal) ? (forward, Keras1Name(w.Name["forward_".Length..], innerName))
                : w.Name.StartsWith("backward_", StringComparison.Ordinal) ? (backward, Keras1Name(w.Name["backward_".Length..], innerName))
                : throw new SurgeonException($"Layer '{layer.Name}' (Bidirectional) has a weight '{w.Name}' that belongs to neither direction.");
            side.Add(WrappedLayer.Renamed(w, rest));
        }
        return (forward, backward);
    }

    private static string Keras1Name(string name, string? innerName)
    {
        if (innerName is not null && name.StartsWith(innerName + "_", StringComparison.Ordinal)) name = name[(innerName.Length + 1)..];
        return WrappedLayer.Keras1ShortName(name);
    }

    public override void Dispose()
    {
        _forward.Dispose();
        _backward.Dispose();
        base.Dispose();
    }
}
