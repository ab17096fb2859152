using System.Text.Json.Nodes;
using Surgeon.Forward.Kernels;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>
/// Conv1D/2D/3D (groups), DepthwiseConv1D/2D and SeparableConv1D/2D, both data formats, TensorFlow's asymmetric SAME
/// padding, causal padding, strides and dilation. Kernels stay in Keras layout ((k..., in, out)); the permutation to
/// TorchSharp's (out, in, k...) is recorded in the autograd graph at every call.
/// </summary>
internal sealed class ConvOp : ActivatedOp
{
    private readonly int _rank;
    private readonly bool _channelsFirst;
    private readonly int[] _kernelSize;
    private readonly long[] _strides;
    private readonly long[] _dilation;
    private readonly string _padding;
    private readonly long[] _toTorch;
    private readonly Kind _kind;
    private readonly TrainableParameter _kernel;      // kernel, or depthwise_kernel
    private readonly TrainableParameter? _pointwise;  // separable only
    private readonly TrainableParameter? _bias;
    private readonly long _groups;
    private readonly bool _theanoOrdering;

    private enum Kind { Plain, Depthwise, Separable }

    public ConvOp(KerasLayer layer, ParameterSet p) : base(layer)
    {
        var c = layer.ConfigNode;
        _rank = CoreKernels.SpatialRank(layer.ClassName);
        _channelsFirst = ChannelsFirst(c);
        _kernelSize = Ints(c, _rank, "kernel_size") ?? Keras1Kernel(c, _rank);
        _strides = (Ints(c, _rank, "strides", "subsample", "subsample_length") ?? Enumerable.Repeat(1, _rank).ToArray()).Select(s => (long)s).ToArray();
        _dilation = (Ints(c, _rank, "dilation_rate", "atrous_rate") ?? Enumerable.Repeat(1, _rank).ToArray()).Select(s => (long)s).ToArray();
        _padding = String(c, "padding", "border_mode") ?? "valid";
        if (_padding is not ("valid" or "same" or "causal" or "full"))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses padding '{_padding}', which Surgeon does not know.");
        _toTorch = new long[] { _rank + 1, _rank }.Concat(Enumerable.Range(0, _rank).Select(i => (long)i)).ToArray();
        _kind = layer.ClassName.StartsWith("Depthwise", StringComparison.Ordinal) ? Kind.Depthwise
            : layer.ClassName.StartsWith("Separable", StringComparison.Ordinal) ? Kind.Separable : Kind.Plain;
        if (_kind == Kind.Plain)
        {
            _kernel = p.Require(layer, "kernel", "W");
            _groups = Int(c, "groups") ?? 1;
            _theanoOrdering = String(c, "dim_ordering") == "th";
            if (_kernel.Value.dim() != _rank + 2)
                throw new SurgeonException($"Layer '{layer.Name}' has a kernel of rank {_kernel.Value.dim()}; expected {_rank + 2}.");
        }
        else
        {
            _kernel = p.Require(layer, "depthwise_kernel");
            _groups = _kernel.Value.shape[_rank];
            if (_kind == Kind.Separable) _pointwise = p.Require(layer, "pointwise_kernel");
        }
        _bias = p.Find(layer, "bias", "b");
    }

    private static int[] Keras1Kernel(JsonObject c, int rank) => rank switch
    {
        1 => new[] { Int(c, "filter_length") ?? 1 },
        2 => new[] { Int(c, "nb_row") ?? 1, Int(c, "nb_col") ?? 1 },
        _ => new[] { Int(c, "kernel_dim1") ?? 1, Int(c, "kernel_dim2") ?? 1, Int(c, "kernel_dim3") ?? 1 },
    };

    /// <summary>The kernel in TorchSharp's layout, (out, in / groups, k...), as a differentiable view.</summary>
    private Tensor TorchKernel(StepContext context)
    {
        var k = _kernel.Value;
        if (_kind != Kind.Plain)
        {
            // (k..., in, multiplier) -> (k..., 1, in * multiplier) -> (in * multiplier, 1, k...): output channel i * m + j.
            var shape = k.shape[.._rank].Append(1).Append(k.shape[_rank] * k.shape[_rank + 1]).ToArray();
            return k.reshape(shape).permute(_toTorch);
        }
        var w = _theanoOrdering ? k : k.permute(_toTorch);
        // Theano-saved kernels are flipped along every spatial axis (it convolves; the other backends correlate).
        return context.TheanoKernels ? w.flip(Enumerable.Range(2, _rank).Select(i => (long)i).ToArray()) : w;
    }

    protected override Tensor PreActivation(IReadOnlyList<Tensor> inputs, StepContext context)
    {
        var x = _channelsFirst ? inputs[0] : CoreKernels.ToChannelsFirst(inputs[0]);
        var amounts = Enumerable.Range(0, _rank)
            .Select(i => ConvPadding.For(_padding, x.shape[i + 2], _kernelSize[i], (int)_strides[i], (int)_dilation[i])).ToArray();
        long[] padding;
        if (amounts.All(a => a.Before == a.After))
        {
            padding = amounts.Select(a => a.Before).ToArray();
        }
        else
        {
            // TensorFlow's SAME puts the odd pixel after (bottom/right); causal pads before only.
            x = ConvPadding.Pad(x, amounts);
            padding = new long[_rank];
        }
        var ones = Enumerable.Repeat(1L, _rank).ToArray();
        var y = Conv(x, TorchKernel(context), _pointwise is null ? _bias?.Value : null, _strides, padding, _dilation, _groups);
        if (_pointwise is not null)
            y = Conv(y, _pointwise.Value.permute(_toTorch), _bias?.Value, ones, new long[_rank], ones, 1);
        return _channelsFirst ? y : CoreKernels.ToChannelsLast(y);
    }

    private Tensor Conv(Tensor x, Tensor w, Tensor? b, long[] stride, long[] padding, long[] dilation, long groups) => _rank switch
    {
        1 => nn.functional.conv1d(x, w, b, stride[0], padding[0], dilation[0], groups),
        2 => nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
        _ => nn.functional.conv3d(x, w, b, stride, padding, dilation, groups),
    };
}
