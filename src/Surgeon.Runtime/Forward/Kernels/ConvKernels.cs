using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Keras padding modes turned into explicit (before, after) amounts per spatial axis.</summary>
internal static class ConvPadding
{
    /// <summary>
    /// TensorFlow's SAME padding: total = max((ceil(in / s) - 1) * s + effective_k - in, 0), with the extra pixel
    /// after (bottom/right); causal pads effective_k - 1 before; valid pads nothing.
    /// </summary>
    public static (long Before, long After) For(string padding, long input, int kernel, int stride, int dilation)
    {
        var k = (long)(kernel - 1) * dilation + 1;
        switch (padding)
        {
            case "valid":
                return (0, 0);
            case "causal":
                return (k - 1, 0);
            case "same":
                {
                    var outLength = (input + stride - 1) / stride;
                    var total = Math.Max((outLength - 1) * stride + k - input, 0);
                    return (total / 2, total - total / 2);
                }
            case "full":
                return (k - 1, k - 1);
            default:
                throw new SurgeonException($"Unknown padding '{padding}'.");
        }
    }

    /// <summary>
    /// Pads the spatial axes of a channels-first tensor (N, C, d1, d2, ...) by (before, after) per axis; a no-op
    /// when all amounts are zero and symmetric amounts can go to the convolution itself.
    /// </summary>
    public static Tensor Pad(Tensor x, (long Before, long After)[] amounts, double value = 0)
    {
        if (amounts.All(a => a.Before == 0 && a.After == 0)) return x;
        // F.pad takes the last axis first.
        var pad = amounts.AsEnumerable().Reverse().SelectMany(a => new[] { a.Before, a.After }).ToArray();
        return nn.functional.pad(x, pad, TorchSharp.PaddingModes.Constant, value);
    }
}

/// <summary>Conv1D/2D/3D (groups), DepthwiseConv1D/2D and SeparableConv1D/2D, channels_last and channels_first.</summary>
internal sealed class ConvKernel : LayerKernel
{
    private readonly int _rank;
    private readonly bool _channelsFirst;
    private readonly int[] _kernelSize;
    private readonly long[] _strides;
    private readonly long[] _dilation;
    private readonly string _padding;
    private readonly Tensor _weight;          // (out, in / groups, k...)
    private readonly Tensor? _pointwise;      // separable: (filters, in * multiplier, 1...)
    private readonly Tensor? _bias;
    private readonly long _groups;
    private readonly string? _activation;

    public ConvKernel(KerasLayer layer, ForwardContext context) : base(layer)
    {
        var c = layer.ConfigNode;
        _rank = CoreKernels.SpatialRank(layer.ClassName);
        _channelsFirst = ChannelsFirst(c);
        _kernelSize = Ints(c, _rank, "kernel_size") ?? Keras1Kernel(c, _rank);
        _strides = (Ints(c, _rank, "strides", "subsample", "subsample_length") ?? Enumerable.Repeat(1, _rank).ToArray()).Select(s => (long)s).ToArray();
        _dilation = (Ints(c, _rank, "dilation_rate", "atrous_rate") ?? Enumerable.Repeat(1, _rank).ToArray()).Select(s => (long)s).ToArray();
        _padding = String(c, "padding", "border_mode") ?? "valid";
        _activation = ActivationKernel.Check(layer, String(c, "activation"));
        var perm = new long[] { _rank + 1, _rank }.Concat(Enumerable.Range(0, _rank).Select(i => (long)i)).ToArray();
        if (layer.ClassName.StartsWith("Depthwise", StringComparison.Ordinal))
        {
            // (k..., in, multiplier) -> (in * multiplier, 1, k...) with groups = in: output channel i*m + j.
            var w = layer.FindWeight("depthwise_kernel")!.Value;
            var inChannels = w.shape[_rank];
            _weight = Weight("depthwise_kernel", t => t.reshape(t.shape[.._rank].Append(1).Append(inChannels * t.shape[_rank + 1]).ToArray()).permute(perm));
            _groups = inChannels;
        }
        else if (layer.ClassName.StartsWith("Separable", StringComparison.Ordinal))
        {
            var w = layer.FindWeight("depthwise_kernel")!.Value;
            var inChannels = w.shape[_rank];
            _weight = Weight("depthwise_kernel", t => t.reshape(t.shape[.._rank].Append(1).Append(inChannels * t.shape[_rank + 1]).ToArray()).permute(perm));
            _groups = inChannels;
            _pointwise = Weight("pointwise_kernel", t => t.permute(perm));
        }
        else
        {
            var name = layer.FindWeight("kernel") is not null ? "kernel" : "W";
            if (layer.FindWeight(name) is null) throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has no kernel weight.");
            var kernel = layer.FindWeight(name)!.Value;
            // Keras 1 with Theano ordering ("th") stores kernels (out, in, k...) already.
            _weight = String(c, "dim_ordering") == "th" ? Weight(name) : Weight(name, t => t.permute(perm));
            _groups = Int(c, "groups") ?? 1;
            if (kernel.dim() != _rank + 2) throw new SurgeonException($"Layer '{layer.Name}' has a kernel of rank {kernel.dim()}; expected {_rank + 2}.");
        }
        _bias = OptionalWeight("bias") ?? OptionalWeight("b");
        if (context.TheanoKernels && !layer.ClassName.StartsWith("Depthwise", StringComparison.Ordinal) && !layer.ClassName.StartsWith("Separable", StringComparison.Ordinal))
        {
            // Theano-saved kernels are flipped along every spatial axis (convolution, not correlation).
            var flipped = Own(_weight.flip(Enumerable.Range(2, _rank).Select(i => (long)i).ToArray()).contiguous());
            _weight = flipped;
        }
    }

    private static int[] Keras1Kernel(JsonObject c, int rank) => rank switch
    {
        1 => new[] { Int(c, "filter_length") ?? 1 },
        2 => new[] { Int(c, "nb_row") ?? 1, Int(c, "nb_col") ?? 1 },
        _ => new[] { Int(c, "kernel_dim1") ?? 1, Int(c, "kernel_dim2") ?? 1, Int(c, "kernel_dim3") ?? 1 },
    };

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = _channelsFirst ? inputs[0] : CoreKernels.ToChannelsFirst(inputs[0]);
        var amounts = Enumerable.Range(0, _rank).Select(i => ConvPadding.For(_padding, x.shape[i + 2], _kernelSize[i], (int)_strides[i], (int)_dilation[i])).ToArray();
        // Symmetric amounts go to the convolution itself (no padded copy); TF's extra pixel after needs an explicit pad.
        long[] padding;
        if (amounts.All(a => a.Before == a.After))
        {
            padding = amounts.Select(a => a.Before).ToArray();
        }
        else
        {
            x = ConvPadding.Pad(x, amounts);
            padding = new long[_rank];
        }
        var zero = new long[_rank];
        var y = Conv(x, _weight, _pointwise is null ? _bias : null, _strides, padding, _dilation, _groups);
        if (_pointwise is not null)
        {
            y = Conv(y, _pointwise, _bias, Enumerable.Repeat(1L, _rank).ToArray(), zero, Enumerable.Repeat(1L, _rank).ToArray(), 1);
        }
        // The activation sees the Keras layout (a softmax runs over Keras's last axis: the channels when channels_last).
        return Same(Activations.ApplyToFresh(_activation, _channelsFirst ? y : CoreKernels.ToChannelsLast(y), context.KerasMajorVersion), inputs);
    }

    private Tensor Conv(Tensor x, Tensor w, Tensor? b, long[] stride, long[] padding, long[] dilation, long groups) => _rank switch
    {
        1 => nn.functional.conv1d(x, w, b, stride[0], padding[0], dilation[0], groups),
        2 => nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
        _ => nn.functional.conv3d(x, w, b, stride, padding, dilation, groups),
    };
}

/// <summary>Conv1D/2D/3DTranspose with Keras's output size rules (padding, output_padding, dilation).</summary>
internal sealed class ConvTransposeKernel : LayerKernel
{
    private readonly int _rank;
    private readonly bool _channelsFirst;
    private readonly int[] _kernelSize;
    private readonly int[] _strides;
    private readonly int[] _dilation;
    private readonly int[]? _outputPadding;
    private readonly string _padding;
    private readonly Tensor _weight; // (in, out, k...)
    private readonly Tensor? _bias;
    private readonly string? _activation;

    public ConvTransposeKernel(KerasLayer layer) : base(layer)
    {
        var c = layer.ConfigNode;
        _rank = CoreKernels.SpatialRank(layer.ClassName);
        _channelsFirst = ChannelsFirst(c);
        _kernelSize = Ints(c, _rank, "kernel_size")!;
        _strides = Ints(c, _rank, "strides") ?? Enumerable.Repeat(1, _rank).ToArray();
        _dilation = Ints(c, _rank, "dilation_rate") ?? Enumerable.Repeat(1, _rank).ToArray();
        _outputPadding = Ints(c, _rank, "output_padding");
        _padding = String(c, "padding") ?? "valid";
        _activation = ActivationKernel.Check(layer, String(c, "activation"));
        // Keras (k..., out, in) -> torch (in, out, k...).
        _weight = Weight("kernel", t => t.permute(new long[] { _rank + 1, _rank }.Concat(Enumerable.Range(0, _rank).Select(i => (long)i)).ToArray()));
        _bias = OptionalWeight("bias");
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = _channelsFirst ? inputs[0] : CoreKernels.ToChannelsFirst(inputs[0]);
        // Full transposed convolution (no padding), then crop to Keras's output length: crop pad_before at the start.
        var stride = _strides.Select(s => (long)s).ToArray();
        var dilation = _dilation.Select(d => (long)d).ToArray();
        var zero = new long[_rank];
        var y = _rank switch
        {
            1 => nn.functional.conv_transpose1d(x, _weight, _bias, stride[0], 0, 0, dilation[0], 1),
            2 => nn.functional.conv_transpose2d(x, _weight, _bias, stride, zero, zero, dilation, 1),
            _ => nn.functional.conv_transpose3d(x, _weight, _bias, stride, zero, zero, dilation, 1),
        };
        for (var i = 0; i < _rank; i++)
        {
            var input = x.shape[i + 2];
            var outLength = Shapes.ShapeInference.DeconvLength((int)input, _kernelSize[i], _padding, _outputPadding?[i], _strides[i], _dilation[i])!.Value;
            // TF's transposed convolution crops the full result by the forward convolution's SAME padding:
            // total = full - out, before = total / 2 (floor); VALID crops nothing.
            var full = y.shape[i + 2];
            var before = _padding == "valid" ? 0 : Math.Max(0, (full - outLength) / 2);
            var available = full - before;
            if (available >= outLength)
            {
                y = y.narrow(i + 2, before, outLength);
            }
            else
            {
                // output_padding beyond the full result: zeros at the end (bias added after).
                var pad = new long[2 * _rank];
                pad[2 * (_rank - 1 - i) + 1] = outLength - available;
                y = nn.functional.pad(y.narrow(i + 2, before, available), pad);
                if (_bias is not null)
                {
                    var shape = Enumerable.Repeat(1L, _rank + 2).ToArray();
                    shape[1] = _bias.shape[0];
                    var fill = zeros_like(y);
                    fill.narrow(i + 2, available, outLength - available).add_(_bias.reshape(shape));
                    y = y + fill;
                }
            }
        }
        // The activation sees the Keras layout (a softmax runs over Keras's last axis: the channels when channels_last).
        return Same(Activations.ApplyToFresh(_activation, _channelsFirst ? y : CoreKernels.ToChannelsLast(y), context.KerasMajorVersion), inputs);
    }
}
