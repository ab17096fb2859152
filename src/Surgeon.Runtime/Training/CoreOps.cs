using System.Text.Json.Nodes;
using Surgeon.Forward;
using Surgeon.Forward.Kernels;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>Dense: activation(x @ kernel + bias) over the last axis; kernel (in, out) as Keras stores it.</summary>
internal sealed class DenseOp(KerasLayer layer, ParameterSet p) : ActivatedOp(layer)
{
    private readonly TrainableParameter _kernel = p.Require(layer, "kernel", "W");
    private readonly TrainableParameter? _bias = p.Find(layer, "bias", "b");

    protected override Tensor PreActivation(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        if (x.dim() == 2 && _bias is not null) return addmm(_bias.Value, x, _kernel.Value, 1, 1);
        var y = matmul(x, _kernel.Value);
        return _bias is null ? y : y + _bias.Value;
    }
}

/// <summary>Activation(name).</summary>
internal sealed class ActivationOp(KerasLayer layer) : ActivatedOp(layer)
{
    protected override Tensor PreActivation(IReadOnlyList<Tensor> inputs, StepContext context) => inputs[0];
}

/// <summary>Softmax(axis): one axis, or several (Keras 3).</summary>
internal sealed class SoftmaxOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly int[] _axes = Ints(layer.ConfigNode, 1, "axis") ?? new[] { -1 };

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        if (_axes.Length == 1) return softmax(x, _axes[0]);
        var dims = _axes.Select(a => (long)a).ToArray();
        var e = (x - x.amax(dims, keepdim: true).detach()).exp();
        return e / e.sum(dims, keepdim: true);
    }

    public override bool EndsInSoftmax => _axes.Length == 1 && _axes[0] == -1;

    public override Tensor PreSoftmax(IReadOnlyList<Tensor> inputs, StepContext context) => inputs[0];
}

/// <summary>ReLU(max_value, negative_slope, threshold), LeakyReLU, ELU, ThresholdedReLU.</summary>
internal sealed class PointwiseActivationOp : TrainOp
{
    private readonly Func<Tensor, Tensor> _f;

    public PointwiseActivationOp(KerasLayer layer) : base(layer)
    {
        var c = layer.ConfigNode;
        double? Num(params string[] keys) => keys.Select(k => c[k]).OfType<JsonValue>().Select(v => v.TryGetValue(out double d) ? d : (double?)null).FirstOrDefault(d => d is not null);
        switch (layer.ClassName)
        {
            case "ReLU":
                {
                    var max = Num("max_value");
                    var slope = Num("negative_slope") ?? 0;
                    var threshold = Num("threshold") ?? 0;
                    _f = x =>
                    {
                        var y = slope == 0 && threshold == 0 ? nn.functional.relu(x) : where(x >= threshold, x, (x - threshold) * slope);
                        return max is { } m ? y.clamp_max(m) : y;
                    };
                    break;
                }
            case "LeakyReLU":
                {
                    var slope = Num("negative_slope", "alpha") ?? 0.3;
                    _f = x => nn.functional.leaky_relu(x, slope);
                    break;
                }
            case "ELU":
                {
                    var alpha = Num("alpha") ?? 1.0;
                    _f = x => nn.functional.elu(x, alpha);
                    break;
                }
            default: // ThresholdedReLU
                {
                    var theta = Num("theta") ?? 1.0;
                    _f = x => x * (x > theta).to_type(x.dtype);
                    break;
                }
        }
    }

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) => _f(inputs[0]);
}

/// <summary>PReLU: relu(x) - alpha * relu(-x), alpha trainable and broadcast over shared axes.</summary>
internal sealed class PreluOp(KerasLayer layer, ParameterSet p) : TrainOp(layer)
{
    private readonly TrainableParameter _alpha = p.Require(layer, "alpha");

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        return nn.functional.relu(x) - _alpha.Value * nn.functional.relu(-x);
    }
}

/// <summary>
/// Dropout (with noise_shape), SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout and AlphaDropout: identity
/// at inference; Keras's training behaviour, drawing from the step's generator.
/// </summary>
internal sealed class NoiseOp : TrainOp
{
    private readonly double _rate;
    private readonly double _stddev;
    private readonly int?[]? _noiseShape;
    private readonly bool _channelsFirst;

    public NoiseOp(KerasLayer layer) : base(layer)
    {
        var c = layer.ConfigNode;
        _rate = c["rate"] is JsonValue v && v.TryGetValue(out double r) ? r : c["p"] is JsonValue p && p.TryGetValue(out double pp) ? pp : 0;
        _stddev = c["stddev"] is JsonValue s && s.TryGetValue(out double sd) ? sd : c["sigma"] is JsonValue sg && sg.TryGetValue(out double sgd) ? sgd : 0;
        _noiseShape = Shape(c["noise_shape"]);
        _channelsFirst = ChannelsFirst(c);
    }

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        if (!context.Training) return x;
        switch (Layer.ClassName)
        {
            case "GaussianNoise":
                return _stddev == 0 ? x : x + randn(x.shape, dtype: x.dtype, device: x.device, generator: context.Random) * _stddev;
            case "GaussianDropout":
                return _rate is <= 0 or >= 1 ? x : x * (randn(x.shape, dtype: x.dtype, device: x.device, generator: context.Random) * Math.Sqrt(_rate / (1 - _rate)) + 1);
            case "AlphaDropout":
                return _rate is <= 0 or >= 1 ? x : AlphaDropout(x, context);
        }
        if (_rate <= 0) return x;
        if (_rate >= 1) return zeros_like(x);
        var shape = NoiseShape(x);
        // Keras keeps an element where uniform >= rate and scales kept ones by 1 / (1 - rate).
        var keep = (rand(shape, dtype: x.dtype, device: x.device, generator: context.Random) >= _rate).to_type(x.dtype);
        return x * keep * (1 / (1 - _rate));
    }

    private long[] NoiseShape(Tensor x)
    {
        var shape = x.shape.ToArray();
        if (Layer.ClassName.StartsWith("SpatialDropout", StringComparison.Ordinal))
        {
            // One draw per sample and channel, shared over the spatial axes.
            var channel = _channelsFirst ? 1 : shape.Length - 1;
            for (var i = 1; i < shape.Length; i++)
            {
                if (i != channel) shape[i] = 1;
            }
            return shape;
        }
        if (_noiseShape is { } ns && ns.Length == shape.Length)
        {
            for (var i = 0; i < shape.Length; i++)
            {
                if (ns[i] is { } d) shape[i] = d;
            }
        }
        return shape;
    }

    private Tensor AlphaDropout(Tensor x, StepContext context)
    {
        // Keras: alpha_p = -alpha * scale; kept = uniform >= rate; a = ((1 - rate) (1 + rate alpha_p^2))^-1/2; b = -a alpha_p rate.
        const double alpha = 1.6732632423543772848170429916717;
        const double scale = 1.0507009873554804934193349852946;
        var alphaP = -alpha * scale;
        var kept = (rand(NoiseShape(x), dtype: x.dtype, device: x.device, generator: context.Random) >= _rate).to_type(x.dtype);
        var a = Math.Pow((1 - _rate) * (1 + _rate * alphaP * alphaP), -0.5);
        var b = -a * alphaP * _rate;
        return (x * kept + (1 - kept) * alphaP) * a + b;
    }
}

/// <summary>Rescaling(scale, offset).</summary>
internal sealed class RescalingOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly double _scale = layer.ConfigNode["scale"] is JsonValue s && s.TryGetValue(out double d) ? d : 1;
    private readonly double _offset = layer.ConfigNode["offset"] is JsonValue o && o.TryGetValue(out double e) ? e : 0;

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) => inputs[0] * _scale + _offset;
}

/// <summary>Flatten; with channels_first, channels are moved last first, as Keras does.</summary>
internal sealed class FlattenOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        if (_channelsFirst && x.dim() > 2) x = CoreKernels.ToChannelsLast(x);
        return x.reshape(x.shape[0], -1);
    }
}

/// <summary>Reshape(target_shape), batch axis kept, one -1 allowed.</summary>
internal sealed class ReshapeOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly long[] _target = (layer.ConfigNode["target_shape"] as JsonArray ?? throw new SurgeonException($"Layer '{layer.Name}' (Reshape) has no target_shape."))
        .Select(d => (long)d!.GetValue<int>()).ToArray();

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) =>
        inputs[0].reshape(new[] { inputs[0].shape[0] }.Concat(_target).ToArray());
}

/// <summary>Permute(dims), 1-based over the non-batch axes.</summary>
internal sealed class PermuteOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly long[] _dims = new long[] { 0 }.Concat((Ints(layer.ConfigNode, 0, "dims") ?? Array.Empty<int>()).Select(d => (long)d)).ToArray();

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) => inputs[0].permute(_dims);
}

/// <summary>ZeroPadding1D/2D/3D and Cropping1D/2D/3D on the spatial axes.</summary>
internal sealed class PaddingOp(KerasLayer layer, bool crop) : TrainOp(layer)
{
    private readonly int _rank = CoreKernels.SpatialRank(layer.ClassName);
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);
    private readonly (int Before, int After)[] _amounts = Shapes.ShapeInference.Pairs(layer.ConfigNode[crop ? "cropping" : "padding"], CoreKernels.SpatialRank(layer.ClassName));

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        var first = _channelsFirst ? 2 : 1;
        if (crop)
        {
            for (var i = 0; i < _rank; i++)
            {
                var axis = first + i;
                x = x.narrow(axis, _amounts[i].Before, x.shape[axis] - _amounts[i].Before - _amounts[i].After);
            }
            return x;
        }
        // F.pad lists the last axis first; channels_last leaves the channel axis (last) unpadded.
        var pad = new List<long>();
        if (!_channelsFirst) pad.AddRange(new long[] { 0, 0 });
        for (var i = _rank - 1; i >= 0; i--) pad.AddRange(new long[] { _amounts[i].Before, _amounts[i].After });
        return nn.functional.pad(x, pad.ToArray());
    }
}

/// <summary>UpSampling1D/2D/3D with nearest-neighbour repetition (the default interpolation).</summary>
internal sealed class UpSamplingOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly int _rank = CoreKernels.SpatialRank(layer.ClassName);
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);
    private readonly int[] _size = Ints(layer.ConfigNode, CoreKernels.SpatialRank(layer.ClassName), "size", "length") ?? Enumerable.Repeat(2, CoreKernels.SpatialRank(layer.ClassName)).ToArray();

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        var first = _channelsFirst ? 2 : 1;
        for (var i = 0; i < _rank; i++) x = x.repeat_interleave(_size[i], first + i);
        return x;
    }
}

/// <summary>Add, Subtract, Multiply, Average, Maximum, Minimum (with broadcasting).</summary>
internal sealed class MergeOp(KerasLayer layer) : TrainOp(layer)
{
    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var xs = inputs;
        return Layer.ClassName switch
        {
            "Add" => xs.Skip(1).Aggregate(xs[0], (a, b) => a + b),
            "Subtract" => xs[0] - xs[1],
            "Multiply" => xs.Skip(1).Aggregate(xs[0], (a, b) => a * b),
            "Average" => xs.Skip(1).Aggregate(xs[0], (a, b) => a + b) / xs.Count,
            "Maximum" => xs.Skip(1).Aggregate(xs[0], maximum),
            _ => xs.Skip(1).Aggregate(xs[0], minimum),
        };
    }
}

/// <summary>Concatenate(axis).</summary>
internal sealed class ConcatenateOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly int _axis = Int(layer.ConfigNode, "axis", "concat_axis") ?? -1;

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) => cat(inputs.ToArray(), _axis);
}

/// <summary>A Sequential or Functional model used as a layer: runs its own trainable graph.</summary>
internal sealed class NestedModelOp(KerasLayer layer, TrainableGraph graph) : TrainOp(layer)
{
    public TrainableGraph Graph { get; } = graph;

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var outputs = ForwardAll(inputs, context);
        return outputs.Count == 1 ? outputs[0] : throw new SurgeonException($"Nested model '{Layer.Name}' has {outputs.Count} outputs.");
    }

    public override IReadOnlyList<Tensor> ForwardAll(IReadOnlyList<Tensor> inputs, StepContext context) => Graph.Forward(inputs, context).Outputs;
}
