using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Max/Average pooling 1D/2D/3D with Keras's padding (average pooling excludes the padding).</summary>
internal sealed class PoolingKernel : LayerKernel
{
    private readonly int _rank;
    private readonly bool _channelsFirst;
    private readonly bool _max;
    private readonly int[] _pool;
    private readonly int[] _strides;
    private readonly string _padding;

    public PoolingKernel(KerasLayer layer) : base(layer)
    {
        var c = layer.ConfigNode;
        _rank = CoreKernels.SpatialRank(layer.ClassName);
        _channelsFirst = ChannelsFirst(c);
        _max = layer.ClassName.StartsWith("Max", StringComparison.Ordinal);
        _pool = Ints(c, _rank, "pool_size", "pool_length") ?? Enumerable.Repeat(2, _rank).ToArray();
        _strides = Ints(c, _rank, "strides", "stride") ?? _pool;
        _padding = String(c, "padding", "border_mode") ?? "valid";
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = _channelsFirst ? inputs[0] : CoreKernels.ToChannelsFirst(inputs[0]);
        var amounts = Enumerable.Range(0, _rank).Select(i => ConvPadding.For(_padding, x.shape[i + 2], _pool[i], _strides[i], 1)).ToArray();
        var kernel = _pool.Select(p => (long)p).ToArray();
        var stride = _strides.Select(s => (long)s).ToArray();
        Tensor y;
        if (_max)
        {
            var padded = ConvPadding.Pad(x, amounts, double.NegativeInfinity);
            y = _rank switch
            {
                1 => nn.functional.max_pool1d(padded, kernel[0], stride[0]),
                2 => nn.functional.max_pool2d(padded, kernel, stride),
                _ => nn.functional.max_pool3d(padded, kernel, stride),
            };
        }
        else
        {
            // Average over the real elements only: pool the values and a ones-mask with zero padding, divide.
            var padded = ConvPadding.Pad(x, amounts);
            y = AvgPool(padded, kernel, stride);
            if (amounts.Any(a => a.Before != 0 || a.After != 0))
            {
                var ones = ConvPadding.Pad(ones_like(x.narrow(1, 0, 1)), amounts);
                y = y / AvgPool(ones, kernel, stride);
            }
        }
        return Same(_channelsFirst ? y : CoreKernels.ToChannelsLast(y), inputs);
    }

    private Tensor AvgPool(Tensor x, long[] kernel, long[] stride) => _rank switch
    {
        1 => nn.functional.avg_pool1d(x, kernel[0], stride[0]),
        2 => nn.functional.avg_pool2d(x, kernel, stride),
        _ => nn.functional.avg_pool3d(x, kernel, stride),
    };
}

/// <summary>Global max/average pooling over the spatial axes (keepdims supported).</summary>
internal sealed class GlobalPoolingKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);
    private readonly bool _max = layer.ClassName.StartsWith("GlobalMax", StringComparison.Ordinal);
    private readonly bool _keepDims = Bool(layer.ConfigNode, "keepdims", false);

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var axes = _channelsFirst
            ? Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i).ToArray()
            : Enumerable.Range(1, (int)x.dim() - 2).Select(i => (long)i).ToArray();
        if (!_max && inputs.Mask is { } mask && x.dim() == 3 && !_channelsFirst)
        {
            // Keras's GlobalAveragePooling1D averages over unmasked steps only.
            var m = mask.unsqueeze(-1).to_type(x.dtype);
            var avg = (x * m).sum(1, keepdim: _keepDims) / m.sum(1, keepdim: _keepDims).clamp_min(1e-12);
            return new KernelOutputs(new[] { avg });
        }
        var y = _max ? x.amax(axes, keepdim: _keepDims) : x.mean(axes, keepdim: _keepDims);
        return new KernelOutputs(new[] { y });
    }
}
