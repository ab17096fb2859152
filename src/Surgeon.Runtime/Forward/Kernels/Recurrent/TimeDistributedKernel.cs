using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// TimeDistributed: the wrapped layer applied to every time step at once, with time folded into the batch
/// ((N, T, ...) to (N·T, ...) and back). The output mask is the input mask, or (Keras 1/2) the wrapped layer's own
/// mask unfolded when it makes one.
/// </summary>
internal sealed class TimeDistributedKernel : LayerKernel
{
    private readonly LayerKernel _inner;

    public TimeDistributedKernel(KerasLayer layer, ForwardContext context) : base(layer)
    {
        var (cls, config) = WrappedLayer.Read(layer, "layer");
        var innerName = config["name"].AsString();
        // The wrapper's weights are the inner layer's, under the same short names (kernel, bias, ...); Keras 1 named
        // them after the inner layer ("dense_1_W"), which maps to the Keras 2 names.
        var weights = layer.Weights.Select(w => innerName is not null && w.Name.StartsWith(innerName + "_", StringComparison.Ordinal)
            ? WrappedLayer.Renamed(w, WrappedLayer.Keras1ShortName(w.Name[(innerName.Length + 1)..]))
            : w);
        _inner = KernelFactory.Create(WrappedLayer.Create(layer, layer.Name + "/" + (innerName ?? cls), cls, config, weights), context);
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        if (x.dim() < 3)
            throw new SurgeonException($"Layer '{Layer.Name}' (TimeDistributed) needs an input of at least 3 dimensions (batch, time, ...); got [{string.Join(", ", x.shape)}].");
        var (n, t) = (x.shape[0], x.shape[1]);
        var folded = x.reshape(new[] { n * t }.Concat(x.shape.Skip(2)).ToArray());
        // A per-step mask (N, T, ...) folds like the input; a plain (N, T) mask has nothing left for the inner layer.
        var mask = inputs.Mask;
        var innerMask = mask is not null && mask.dim() > 2 ? mask.reshape(new[] { n * t }.Concat(mask.shape.Skip(2)).ToArray()) : null;
        var result = _inner.Forward(new KernelInputs(new[] { folded }, new[] { innerMask }), context);
        var outputs = result.Tensors.Select(y => y.reshape(new[] { n, t }.Concat(y.shape.Skip(1)).ToArray())).ToArray();
        var outputMask = mask;
        if (context.KerasMajorVersion < 3 && result.Mask is { } m && !ReferenceEquals(m, innerMask))
            outputMask = m.reshape(new[] { n, t }.Concat(m.shape.Skip(1)).ToArray());
        return new KernelOutputs(outputs, outputMask);
    }

    public override void Dispose()
    {
        _inner.Dispose();
        base.Dispose();
    }
}
