using System.Text.Json.Nodes;
using Surgeon.Forward.Kernels;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>
/// BatchNormalization. Training (and the layer trainable): normalises with the batch mean and biased batch variance
/// over every axis but the normalised ones, and updates the moving statistics as Keras does,
/// <c>moving = moving * momentum + batch * (1 - momentum)</c>. Otherwise (inference, or <c>trainable: false</c>, as
/// in Keras 2+): normalises with the moving statistics.
/// </summary>
internal sealed class BatchNormOp : TrainOp
{
    private readonly int[] _axes;
    private readonly double _epsilon;
    private readonly double _momentum;
    private readonly bool _trainable;
    private readonly TrainableParameter? _gamma;
    private readonly TrainableParameter? _beta;
    private readonly TrainableParameter _mean;
    private readonly TrainableParameter _variance;

    public BatchNormOp(KerasLayer layer, ParameterSet p, bool trainable) : base(layer)
    {
        var c = layer.ConfigNode;
        if (Int(c, "mode") is { } mode && mode != 0)
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses Keras 1 mode {mode}; only mode 0 (feature-wise) can be trained.");
        if (c["renorm"] is JsonValue r && r.TryGetValue(out bool renorm) && renorm)
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses batch renormalization, which Surgeon's trainer does not implement.");
        if (c["virtual_batch_size"] is JsonValue vb && vb.TryGetValue(out int _))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses virtual_batch_size, which Surgeon's trainer does not implement.");
        _axes = AxisConfig.Read(c, "axis", new[] { -1 });
        _epsilon = c["epsilon"] is JsonValue e && e.TryGetValue(out double eps) ? eps : 1e-3;
        _momentum = c["momentum"] is JsonValue m && m.TryGetValue(out double mom) ? mom : 0.99;
        _trainable = trainable;
        _gamma = p.Find(layer, "gamma");
        _beta = p.Find(layer, "beta");
        _mean = p.Require(layer, "moving_mean");
        _variance = p.Require(layer, "moving_variance");
    }

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = inputs[0];
        var axes = AxisConfig.Resolve(_axes, x.dim());
        var shape = AxisConfig.BroadcastShape(x, axes);
        Tensor y;
        if (context.Training && _trainable)
        {
            var reduce = Enumerable.Range(0, (int)x.dim()).Where(i => !axes.Contains(i)).Select(i => (long)i).ToArray();
            var mean = x.mean(reduce, keepdim: true);
            var centered = x - mean;
            var variance = centered.square().mean(reduce, keepdim: true);
            y = centered * rsqrt(variance + _epsilon);
            if (context.UpdateStatistics)
            {
                using var _ = no_grad();
                var count = (double)x.numel() / mean.numel();
                var batchVariance = variance.detach().reshape(_variance.Value.shape);
                // Standalone multi-backend Keras 2 updates the moving variance with n / (n - (1 + epsilon)) times the
                // batch variance; tf.keras and Keras 3 with the biased one.
                if (context.UnbiasedMovingVariance) batchVariance = batchVariance * (count / (count - (1 + _epsilon)));
                _mean.Value.mul_(_momentum).add_(mean.detach().reshape(_mean.Value.shape), 1 - _momentum);
                _variance.Value.mul_(_momentum).add_(batchVariance, 1 - _momentum);
            }
        }
        else
        {
            y = (x - _mean.Value.reshape(shape)) * rsqrt(_variance.Value.reshape(shape) + _epsilon);
        }
        if (_gamma is not null) y = y * _gamma.Value.reshape(shape);
        if (_beta is not null) y = y + _beta.Value.reshape(shape);
        return y;
    }
}

/// <summary>LayerNormalization over one or more axes (Keras 3's rms_scaling too).</summary>
internal sealed class LayerNormOp(KerasLayer layer, ParameterSet p) : TrainOp(layer)
{
    private readonly int[] _axes = AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 });
    private readonly double _epsilon = layer.ConfigNode["epsilon"] is JsonValue e && e.TryGetValue(out double d) ? d : 1e-3;
    private readonly bool _rms = Bool(layer.ConfigNode, "rms_scaling", false);
    private readonly TrainableParameter? _gamma = p.Find(layer, "gamma");
    private readonly TrainableParameter? _beta = p.Find(layer, "beta");

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context)
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
            var centered = x - mean;
            y = centered * rsqrt(centered.square().mean(axes, keepdim: true) + _epsilon);
        }
        if (_gamma is not null) y = y * _gamma.Value.reshape(shape);
        if (_beta is not null) y = y + _beta.Value.reshape(shape);
        return y;
    }
}
