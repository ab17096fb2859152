using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Flatten; with channels_first, channels are moved last first, as Keras does.</summary>
internal sealed class FlattenKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        if (_channelsFirst && x.dim() > 2) x = CoreKernels.ToChannelsLast(x);
        return new KernelOutputs(new[] { x.reshape(x.shape[0], -1) });
    }
}

/// <summary>Reshape(target_shape), batch axis kept, one -1 allowed.</summary>
internal sealed class ReshapeKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly long[] _target = (layer.ConfigNode["target_shape"] as JsonArray ?? throw new SurgeonException($"Layer '{layer.Name}' (Reshape) has no target_shape."))
        .Select(d => (long)d!.GetValue<int>()).ToArray();

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) =>
        new(new[] { inputs[0].reshape(new[] { inputs[0].shape[0] }.Concat(_target).ToArray()) });
}

/// <summary>Permute(dims) with 1-based dims over the non-batch axes.</summary>
internal sealed class PermuteKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly long[] _dims = new long[] { 0 }.Concat((Ints(layer.ConfigNode, 0, "dims") ?? Array.Empty<int>()).Select(d => (long)d)).ToArray();

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) => Same(inputs[0].permute(_dims), inputs);
}

/// <summary>RepeatVector(n): (N, F) to (N, n, F).</summary>
internal sealed class RepeatVectorKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly int _n = Int(layer.ConfigNode, "n") ?? 1;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) =>
        new(new[] { inputs[0].unsqueeze(1).expand(inputs[0].shape[0], _n, inputs[0].shape[1]) });
}

/// <summary>ZeroPadding1D/2D/3D and Cropping1D/2D/3D on the spatial axes.</summary>
internal sealed class PaddingKernel(KerasLayer layer, bool crop) : LayerKernel(layer)
{
    private readonly int _rank = CoreKernels.SpatialRank(layer.ClassName);
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);
    private readonly (int Before, int After)[] _amounts = Shapes.ShapeInference.Pairs(layer.ConfigNode[crop ? "cropping" : "padding"], CoreKernels.SpatialRank(layer.ClassName));

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
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
            return Same(x, inputs);
        }
        var pad = new List<long>();
        if (!_channelsFirst) pad.AddRange(new long[] { 0, 0 }); // channels (last axis) untouched
        for (var i = _rank - 1; i >= 0; i--) pad.AddRange(new long[] { _amounts[i].Before, _amounts[i].After });
        return Same(nn.functional.pad(x, pad.ToArray()), inputs);
    }
}

/// <summary>UpSampling1D/2D/3D: repeat (nearest) or bilinear (2D).</summary>
internal sealed class UpSamplingKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly int _rank = CoreKernels.SpatialRank(layer.ClassName);
    private readonly bool _channelsFirst = ChannelsFirst(layer.ConfigNode);
    private readonly int[] _size = Ints(layer.ConfigNode, CoreKernels.SpatialRank(layer.ClassName), "size", "length") ?? Enumerable.Repeat(2, CoreKernels.SpatialRank(layer.ClassName)).ToArray();
    private readonly string _interpolation = String(layer.ConfigNode, "interpolation") ?? "nearest";

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var first = _channelsFirst ? 2 : 1;
        if (_interpolation == "bilinear" && _rank == 2)
        {
            var cf = _channelsFirst ? x : CoreKernels.ToChannelsFirst(x);
            var size = new long[] { cf.shape[2] * _size[0], cf.shape[3] * _size[1] };
            var y = nn.functional.interpolate(cf, size, mode: InterpolationMode.Bilinear, align_corners: false);
            return Same(_channelsFirst ? y : CoreKernels.ToChannelsLast(y), inputs);
        }
        if (_interpolation != "nearest")
            throw new SurgeonException($"Layer '{Layer.Name}' ({Layer.ClassName}) uses interpolation '{_interpolation}', which is not supported.");
        for (var i = 0; i < _rank; i++) x = x.repeat_interleave(_size[i], first + i);
        return Same(x, inputs);
    }
}
