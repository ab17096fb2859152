using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Dropout and noise layers: identity at inference; dropout (rate) when training.</summary>
internal sealed class IdentityKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double _rate = layer.ConfigNode["rate"] is JsonValue v && v.TryGetValue(out double r) ? r : 0;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) =>
        Same(context.Training && _rate > 0 && Layer.ClassName.Contains("Dropout", StringComparison.Ordinal) && Layer.ClassName != "GaussianDropout"
            ? nn.functional.dropout(inputs[0], _rate, true)
            : inputs[0].alias(), inputs);
}

/// <summary>Masking: zeroes time steps whose features all equal mask_value and marks them masked.</summary>
internal sealed class MaskingKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double _value = layer.ConfigNode["mask_value"] switch
    {
        JsonValue v when v.TryGetValue(out double d) => d,
        JsonObject o when o["config"]?["value"] is JsonArray a && a.Count > 0 => a[0]!.GetValue<double>(), // Keras 3 __tensor__
        _ => 0.0,
    };

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var mask = x.ne(_value).any(-1);
        return new KernelOutputs(new[] { x * mask.unsqueeze(-1).to_type(x.dtype) }, mask);
    }
}

/// <summary>Activation(name).</summary>
internal sealed class ActivationKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly string? _name = Check(layer, String(layer.ConfigNode, "activation"));

    internal static string? Check(KerasLayer layer, string? name) =>
        Activations.IsKnown(name) ? name : throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses activation '{name}', which Surgeon does not know.");

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) =>
        Same(Activations.Apply(_name, inputs[0], context.KerasMajorVersion), inputs);
}

/// <summary>ReLU(max_value, negative_slope, threshold).</summary>
internal sealed class ReluKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double? _max = layer.ConfigNode["max_value"] is JsonValue v && v.TryGetValue(out double m) ? m : null;
    private readonly double _slope = layer.ConfigNode["negative_slope"] is JsonValue s && s.TryGetValue(out double d) ? d : 0;
    private readonly double _threshold = layer.ConfigNode["threshold"] is JsonValue t && t.TryGetValue(out double th) ? th : 0;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var y = _slope == 0 && _threshold == 0 ? nn.functional.relu(x) : where(x >= _threshold, x, (x - _threshold) * _slope);
        if (_max is { } max) y = clamp_max(y, max);
        return Same(y, inputs);
    }
}

/// <summary>LeakyReLU(alpha / negative_slope, default 0.3).</summary>
internal sealed class LeakyReluKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double _slope = (layer.ConfigNode["negative_slope"] ?? layer.ConfigNode["alpha"]) is JsonValue v && v.TryGetValue(out double d) ? d : 0.3;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) => Same(nn.functional.leaky_relu(inputs[0], _slope), inputs);
}

/// <summary>PReLU: relu(x) - alpha * relu(-x), alpha broadcast over shared axes.</summary>
internal sealed class PreluKernel : LayerKernel
{
    private readonly Tensor _alpha;

    public PreluKernel(KerasLayer layer) : base(layer) => _alpha = Weight("alpha");

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        return Same(nn.functional.relu(x) - _alpha * nn.functional.relu(-x), inputs);
    }
}

/// <summary>ELU(alpha).</summary>
internal sealed class EluKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double _alpha = layer.ConfigNode["alpha"] is JsonValue v && v.TryGetValue(out double d) ? d : 1.0;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) => Same(nn.functional.elu(inputs[0], _alpha), inputs);
}

/// <summary>ThresholdedReLU(theta): x where x &gt; theta, else 0.</summary>
internal sealed class ThresholdedReluKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double _theta = layer.ConfigNode["theta"] is JsonValue v && v.TryGetValue(out double d) ? d : 1.0;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        return Same(x * (x > _theta).to_type(x.dtype), inputs);
    }
}

/// <summary>Softmax(axis): one axis or several (Keras 3).</summary>
internal sealed class SoftmaxKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly int[] _axes = Ints(layer.ConfigNode, 1, "axis") ?? new[] { -1 };

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        if (_axes.Length == 1) return Same(softmax(x, _axes[0]), inputs);
        var dims = _axes.Select(a => (long)a).ToArray();
        var shifted = x - x.amax(dims, keepdim: true);
        var e = shifted.exp();
        return Same(e / e.sum(dims, keepdim: true), inputs);
    }
}

/// <summary>Dense: activation(x @ kernel + bias) over the last axis of any rank.</summary>
internal sealed class DenseKernel : LayerKernel
{
    private readonly Tensor _kernel;
    private readonly Tensor? _bias;
    private readonly string? _activation;

    public DenseKernel(KerasLayer layer) : base(layer)
    {
        _kernel = Weight("kernel");
        _bias = OptionalWeight("bias");
        _activation = ActivationKernel.Check(layer, String(layer.ConfigNode, "activation"));
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var y = x.dim() == 2 && _bias is not null ? addmm(_bias, x, _kernel, 1, 1) : matmul(x, _kernel);
        if (_bias is not null && x.dim() != 2) y = y.add_(_bias);
        return Same(Activations.ApplyToFresh(_activation, y, context.KerasMajorVersion), inputs);
    }
}
