using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Reads a Keras axis setting (an int or a list) as non-negative axes for a given rank.</summary>
internal static class AxisConfig
{
    public static int[] Read(JsonObject c, string key, int[] dflt) => c[key] switch
    {
        JsonValue v when v.TryGetValue(out int a) => new[] { a },
        JsonArray arr => arr.Select(x => x!.GetValue<int>()).ToArray(),
        _ => dflt,
    };

    public static long[] Resolve(int[] axes, long rank) => axes.Select(a => a < 0 ? rank + a : a).ToArray();

    /// <summary>A shape of ones with the sizes of <paramref name="x"/> kept on <paramref name="axes"/>, to broadcast parameters.</summary>
    public static long[] BroadcastShape(Tensor x, long[] axes) =>
        Enumerable.Range(0, (int)x.dim()).Select(i => axes.Contains(i) ? x.shape[i] : 1L).ToArray();
}

/// <summary>BatchNormalization on any axis: moving statistics at inference, batch statistics when training.</summary>
internal sealed class BatchNormKernel : LayerKernel
{
    private readonly int[] _axes;
    private readonly double _epsilon;
    private readonly Tensor? _gamma;
    private readonly Tensor? _beta;
    private readonly Tensor _mean;
    private readonly Tensor _variance;
    private readonly Tensor _scale; // gamma / sqrt(variance + epsilon)
    private readonly Tensor _shift; // beta - mean * scale

    public BatchNormKernel(KerasLayer layer) : base(layer)
    {
        _axes = AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 });
        _epsilon = layer.ConfigNode["epsilon"] is JsonValue e && e.TryGetValue(out double d) ? d : 1e-3;
        _gamma = OptionalWeight("gamma");
        _beta = OptionalWeight("beta");
        _mean = Weight("moving_mean");
        _variance = Weight("moving_variance");
        // Inference is one fused multiply-add: y = x * scale + shift, folded once here.
        var scale = rsqrt(_variance + _epsilon);
        if (_gamma is not null) scale = scale * _gamma;
        var shift = -_mean * scale;
        if (_beta is not null) shift = shift + _beta;
        _scale = Own(scale);
        _shift = Own(shift);
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var axes = AxisConfig.Resolve(_axes, x.dim());
        var shape = AxisConfig.BroadcastShape(x, axes);
        if (!context.Training)
        {
            return Same(axes.Length == 1 && axes[0] == x.dim() - 1
                ? addcmul(_shift, x, _scale, 1)
                : addcmul(_shift.reshape(shape), x, _scale.reshape(shape), 1), inputs);
        }
        // Training: batch statistics over every axis but the normalised ones.
        var reduce = Enumerable.Range(0, (int)x.dim()).Where(i => !axes.Contains(i)).Select(i => (long)i).ToArray();
        var mean = x.mean(reduce, keepdim: true);
        var variance = (x - mean).square().mean(reduce, keepdim: true);
        var y = (x - mean) * rsqrt(variance + _epsilon);
        if (_gamma is not null) y = y * _gamma.reshape(shape);
        if (_beta is not null) y = y + _beta.reshape(shape);
        return Same(y, inputs);
    }
}

/// <summary>LayerNormalization over one or more axes (Keras 3's rms_scaling too).</summary>
internal sealed class LayerNormKernel : LayerKernel
{
    private readonly int[] _axes;
    private readonly double _epsilon;
    private readonly bool _rms;
    private readonly Tensor? _gamma;
    private readonly Tensor? _beta;

    public LayerNormKernel(KerasLayer layer) : base(layer)
    {
        _axes = AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 });
        _epsilon = layer.ConfigNode["epsilon"] is JsonValue e && e.TryGetValue(out double d) ? d : 1e-3;
        _rms = Bool(layer.ConfigNode, "rms_scaling", false);
        _gamma = OptionalWeight("gamma");
        _beta = OptionalWeight("beta");
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var axes = AxisConfig.Resolve(_axes, x.dim());
        var shape = AxisConfig.BroadcastShape(x, axes);
        Tensor y;
        if (_rms)
        {
            y = x * rsqrt(x.square().mean(axes, keepdim: true) + _epsilon);
        }
        else
        {
            var mean = x.mean(axes, keepdim: true);
            var variance = (x - mean).square().mean(axes, keepdim: true);
            y = (x - mean) * rsqrt(variance + _epsilon);
        }
        if (_gamma is not null) y = y * _gamma.reshape(shape);
        if (_beta is not null) y = y + _beta.reshape(shape);
        return Same(y, inputs);
    }
}

/// <summary>GroupNormalization: channels split into groups, each normalised over its channels and all other axes.</summary>
internal sealed class GroupNormKernel : LayerKernel
{
    private readonly int _groups;
    private readonly int _axis;
    private readonly double _epsilon;
    private readonly Tensor? _gamma;
    private readonly Tensor? _beta;

    public GroupNormKernel(KerasLayer layer) : base(layer)
    {
        _groups = Int(layer.ConfigNode, "groups") ?? 32;
        _axis = Int(layer.ConfigNode, "axis") ?? -1;
        _epsilon = layer.ConfigNode["epsilon"] is JsonValue e && e.TryGetValue(out double d) ? d : 1e-3;
        _gamma = OptionalWeight("gamma");
        _beta = OptionalWeight("beta");
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var axis = _axis < 0 ? x.dim() + _axis : _axis;
        var channels = x.shape[axis];
        // Move channels last, split into (groups, channels / groups), normalise over everything but batch and group.
        var moved = x.movedim(new[] { axis }, new[] { -1L });
        var grouped = moved.reshape(moved.shape[..^1].Append(_groups).Append(channels / _groups).ToArray());
        var reduce = Enumerable.Range(1, (int)grouped.dim() - 1).Where(i => i != grouped.dim() - 2).Select(i => (long)i).ToArray();
        var mean = grouped.mean(reduce, keepdim: true);
        var variance = (grouped - mean).square().mean(reduce, keepdim: true);
        var y = ((grouped - mean) * rsqrt(variance + _epsilon)).reshape(moved.shape);
        if (_gamma is not null) y = y * _gamma;
        if (_beta is not null) y = y + _beta;
        return Same(y.movedim(new[] { -1L }, new[] { axis }), inputs);
    }
}

/// <summary>UnitNormalization: x / ||x|| over the axes (L2, floored at 1e-12 under the root, as Keras).</summary>
internal sealed class UnitNormKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly int[] _axes = AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 });

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var axes = AxisConfig.Resolve(_axes, x.dim());
        return Same(x * rsqrt(x.square().sum(axes, keepdim: true).clamp_min(1e-12)), inputs);
    }
}

/// <summary>Rescaling: x * scale + offset.</summary>
internal sealed class RescalingKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly double _scale = layer.ConfigNode["scale"] is JsonValue s && s.TryGetValue(out double a) ? a : 1;
    private readonly double _offset = layer.ConfigNode["offset"] is JsonValue o && o.TryGetValue(out double b) ? b : 0;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) => Same(inputs[0] * _scale + _offset, inputs);
}

/// <summary>Normalization: (x - mean) / max(sqrt(variance), 1e-7), statistics from weights or config; invert supported.</summary>
internal sealed class NormalizationKernel : LayerKernel
{
    private readonly Tensor _mean;
    private readonly Tensor _variance;
    private readonly int[] _axes;
    private readonly bool _invert;

    public NormalizationKernel(KerasLayer layer) : base(layer)
    {
        _axes = AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 });
        _invert = Bool(layer.ConfigNode, "invert", false);
        _mean = OptionalWeight("mean") ?? Own(FromConfig(layer, "mean"));
        _variance = OptionalWeight("variance") ?? Own(FromConfig(layer, "variance"));
    }

    private static Tensor FromConfig(KerasLayer layer, string key) => layer.ConfigNode[key] switch
    {
        JsonArray a => tensor(a.Select(v => v!.GetValue<float>()).ToArray()),
        JsonValue v when v.TryGetValue(out double d) => tensor((float)d),
        _ => throw new SurgeonException($"Layer '{layer.Name}' (Normalization) has no '{key}' weight or config value (was it adapted?)."),
    };

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var axes = AxisConfig.Resolve(_axes, x.dim());
        var shape = AxisConfig.BroadcastShape(x, axes);
        // Statistics from the config start on the CPU; follow the input's device.
        if (_mean.device != x.device) return Same(Normalize(x, _mean.to(x.device), _variance.to(x.device), shape), inputs);
        return Same(Normalize(x, _mean, _variance, shape), inputs);
    }

    private Tensor Normalize(Tensor x, Tensor meanValues, Tensor varianceValues, long[] shape)
    {
        var mean = meanValues.numel() == 1 ? meanValues.reshape(Array.Empty<long>()) : meanValues.reshape(shape);
        var std = (varianceValues.numel() == 1 ? varianceValues.reshape(Array.Empty<long>()) : varianceValues.reshape(shape)).sqrt().clamp_min(1e-7);
        return _invert ? x * std + mean : (x - mean) / std;
    }
}
