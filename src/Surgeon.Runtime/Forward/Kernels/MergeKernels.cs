using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Add, Subtract, Multiply, Average, Maximum, Minimum (with broadcasting, masks combined by AND).</summary>
internal sealed class MergeKernel(KerasLayer layer) : LayerKernel(layer)
{
    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var xs = inputs.Tensors;
        var y = Layer.ClassName switch
        {
            "Add" => xs.Skip(1).Aggregate(xs[0], (a, b) => a + b),
            "Subtract" => xs[0] - xs[1],
            "Multiply" => xs.Skip(1).Aggregate(xs[0], (a, b) => a * b),
            "Average" => xs.Skip(1).Aggregate(xs[0], (a, b) => a + b) / xs.Count,
            "Maximum" => xs.Skip(1).Aggregate(xs[0], maximum),
            _ => xs.Skip(1).Aggregate(xs[0], minimum),
        };
        return new KernelOutputs(new[] { y }, CombineMasks(inputs.Masks));
    }

    internal static Tensor? CombineMasks(IReadOnlyList<Tensor?> masks)
    {
        Tensor? result = null;
        foreach (var m in masks)
        {
            if (m is null) continue;
            result = result is null ? m : result.logical_and(m);
        }
        return result;
    }
}

/// <summary>Concatenate(axis).</summary>
internal sealed class ConcatenateKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly int _axis = Int(layer.ConfigNode, "axis") ?? -1;

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) =>
        new(new[] { cat(inputs.Tensors.ToArray(), _axis) }, _axis == -1 ? MergeKernel.CombineMasks(inputs.Masks) : null);
}

/// <summary>Dot(axes, normalize): batch dot product of two tensors along the given axes.</summary>
internal sealed class DotKernel(KerasLayer layer) : LayerKernel(layer)
{
    private readonly int[] _axes = Ints(layer.ConfigNode, 2, "axes") ?? new[] { -1, -1 };
    private readonly bool _normalize = Bool(layer.ConfigNode, "normalize", false);

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var (x, y) = (inputs[0], inputs[1]);
        long ax = _axes[0] < 0 ? x.dim() + _axes[0] : _axes[0];
        long ay = _axes[1] < 0 ? y.dim() + _axes[1] : _axes[1];
        if (_normalize)
        {
            x = nn.functional.normalize(x, p: 2, dim: ax);
            y = nn.functional.normalize(y, p: 2, dim: ay);
        }
        // Keras batch_dot: contract x's axis ax with y's axis ay, batch axis 0 shared.
        var xm = x.movedim(new[] { ax }, new[] { -1L });
        var ym = y.movedim(new[] { ay }, new[] { 1L });
        var xs = xm.reshape(xm.shape[0], -1, xm.shape[^1]);
        var ys = ym.reshape(ym.shape[0], ym.shape[1], -1);
        var r = bmm(xs, ys);
        var shape = xm.shape[1..^1].Concat(ym.shape[2..]).ToArray();
        var result = r.reshape(new[] { x.shape[0] }.Concat(shape).ToArray());
        return new KernelOutputs(new[] { result.dim() == 1 ? result.unsqueeze(1) : result });
    }
}
