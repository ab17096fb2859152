using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// Importance scores per output channel of a prunable layer (higher means more important; prune the lowest):
/// filter norms (Li et al. 2017), BatchNormalization scale (network slimming, Liu et al. 2017), first-order Taylor
/// (Molchanov et al. 2017), and APoZ turned into an importance (1 - APoZ).
/// </summary>
public static class ChannelImportance
{
    /// <summary>L1 norm of each output channel's weights (its kernel slice; recurrent layers: all gate blocks of the unit).</summary>
    public static double[] L1Norm(KerasModel model, string layer) => Norm(model, layer, p: 1);

    /// <summary>L2 norm of each output channel's weights.</summary>
    public static double[] L2Norm(KerasModel model, string layer) => Norm(model, layer, p: 2);

    /// <summary>
    /// |gamma| of the BatchNormalization that normalises <paramref name="layer"/>'s output (directly after it, or after
    /// per-channel layers such as an activation): network slimming's criterion.
    /// </summary>
    public static double[] BatchNormScale(KerasModel model, string layer)
    {
        var target = Target(model, layer);
        var current = target;
        while (true)
        {
            var consumers = model.Consumers(current.Name);
            if (consumers.Count != 1)
                throw new SurgeonException($"No BatchNormalization follows layer '{layer}' on a single path (the walk stops at '{current.Name}'); the BatchNormalization-scale criterion needs one.");
            current = consumers[0];
            if (current.ClassName == "BatchNormalization")
            {
                var gamma = current.FindWeight("gamma")
                    ?? throw new SurgeonException($"BatchNormalization layer '{current.Name}' after layer '{layer}' has no scale (scale=False); its channels all weigh the same.");
                return TensorValues.ToDoubles(gamma.Value.abs());
            }
            if (current.ClassName is not ("Activation" or "ReLU" or "LeakyReLU" or "PReLU" or "ELU" or "Dropout" or "SpatialDropout1D" or "SpatialDropout2D" or "SpatialDropout3D"))
                throw new SurgeonException($"Layer '{current.Name}' ({current.ClassName}) lies between layer '{layer}' and any BatchNormalization; the BatchNormalization-scale criterion needs one right after it.");
        }
    }

    /// <summary>1 - APoZ (<see cref="Apoz.Compute(KerasModel, string, Tensor, int, IProgress{DataProgress}?, CancellationToken)"/>): channels that are rarely active are least important.</summary>
    public static double[] FromApoz(IReadOnlyList<double> apoz) => apoz.Select(a => 1 - a).ToArray();

    /// <summary>
    /// First-order Taylor importance of every output channel of <paramref name="layers"/>: the mean over samples of
    /// |sum over positions of activation x d(loss)/d(activation)|, the first-order estimate of the loss change when the
    /// channel is zeroed. <paramref name="loss"/> maps the model's outputs and a batch's targets to a scalar (e.g.
    /// <see cref="SparseCategoricalCrossEntropy"/>). Gradients flow through Surgeon's own forward pass, on the model's device.
    /// </summary>
    public static IReadOnlyDictionary<string, double[]> Taylor(
        KerasModel model,
        IEnumerable<string> layers,
        IEnumerable<(IReadOnlyList<Tensor> Inputs, Tensor Targets)> batches,
        Func<IReadOnlyList<Tensor>, Tensor, Tensor> loss,
        IProgress<DataProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(loss);
        var names = layers.ToArray();
        var targets = names.Select(n => Target(model, n)).ToArray();
        var counts = targets.Select(t => ChannelDeletion.ChannelCount(t)!.Value).ToArray();
        var sums = counts.Select(c => new double[c]).ToArray();
        long samples = 0;
        var batchCount = 0;
        using var runner = ModelRunner.Create(model);
        foreach (var (inputs, labels) in batches)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var x = inputs.Select(t => t.to(model.Device)).ToArray();
            var n = x[0].shape[0];
            var gates = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (var i = 0; i < names.Length; i++) gates[names[i]] = ones(new[] { n, (long)counts[i] }, device: model.Device, requires_grad: true);
            runner.Gates = gates;
            try
            {
                using var result = runner.Forward(x, requiresGrad: true);
                var value = loss(result.Outputs, labels.to(model.Device));
                var grads = TorchSharp.torch.autograd.grad(new[] { value }, gates.Values.ToArray());
                var g = gates.Keys.Zip(grads).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
                for (var i = 0; i < names.Length; i++)
                {
                    // (Not sum(0): a literal 0 converts to the ScalarType overload and sums everything.)
                    var perChannel = TensorValues.ToDoubles(g[names[i]].abs().sum(new long[] { 0 }));
                    for (var c = 0; c < perChannel.Length; c++) sums[i][c] += perChannel[c];
                }
            }
            finally
            {
                runner.Gates = null;
            }
            samples += n;
            progress?.Report(new DataProgress(++batchCount, samples));
        }
        if (samples == 0) throw new SurgeonException("Taylor importance: the data set is empty.");
        return names.Select((name, i) => (name, sums[i].Select(v => v / samples).ToArray())).ToDictionary(p => p.name, p => p.Item2, StringComparer.Ordinal);
    }

    /// <summary>Mean sparse categorical cross-entropy of class probabilities (a softmax output) or logits against integer labels.</summary>
    public static Tensor SparseCategoricalCrossEntropy(IReadOnlyList<Tensor> outputs, Tensor labels, bool fromLogits = false)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var logProbabilities = fromLogits ? outputs[0].log_softmax(-1) : outputs[0].clamp_min(1e-7).log();
        return nn.functional.nll_loss(logProbabilities, labels.to_type(ScalarType.Int64));
    }

    private static KerasLayer Target(KerasModel model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        var target = model.RequireLayer(layer);
        if (ChannelDeletion.ChannelCount(target) is null)
            throw new SurgeonException($"Layer '{layer}' ({target.ClassName}) has no channels to rank: only layers with units or filters do.");
        return target;
    }

    private static double[] Norm(KerasModel model, string layer, int p)
    {
        var target = Target(model, layer);
        var count = ChannelDeletion.ChannelCount(target)!.Value;
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var rows in ChannelRows(target, count))
        {
            var wide = rows.to_type(ScalarType.Float64);
            var part = p == 1 ? wide.abs().sum(new long[] { 1 }) : wide.square().sum(new long[] { 1 });
            total = total is null ? part : total + part;
        }
        if (total is null) throw new SurgeonException($"Layer '{layer}' ({target.ClassName}) has no kernel to take norms of.");
        return TensorValues.ToDoubles(p == 1 ? total : total.sqrt());
    }

    /// <summary>The layer's kernels as (channels, everything else) matrices, one per kernel (both directions of a Bidirectional).</summary>
    private static IEnumerable<Tensor> ChannelRows(KerasLayer layer, int count)
    {
        var cls = layer.ClassName is "Bidirectional" or "TimeDistributed" ? ConfigValues.Wrapped(layer.ConfigNode, "layer")?.ClassName ?? "" : layer.ClassName;
        var prefixes = layer.ClassName == "Bidirectional" ? new[] { "forward/", "backward/" } : new[] { "" };
        foreach (var prefix in prefixes)
        {
            switch (cls)
            {
                case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                    yield return Rows(layer, prefix + "kernel", -2, count);
                    break;
                case "SeparableConv1D" or "SeparableConv2D":
                    yield return Rows(layer, prefix + "pointwise_kernel", -1, count);
                    break;
                case "Embedding":
                    yield return Rows(layer, prefix + "embeddings", -1, count);
                    break;
                case "SimpleRNN" or "GRU" or "LSTM" or "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                    {
                        // Gate blocks side by side on the last axis: a unit's weights are its column in every block.
                        var kernel = layer.FindWeight(prefix + "kernel")?.Value ?? throw new SurgeonException($"Layer '{layer.Name}' has no weight '{prefix}kernel'.");
                        var gates = kernel.shape[^1] / count;
                        yield return kernel.reshape(-1, gates, count).permute(2, 0, 1).reshape(count, -1);
                        break;
                    }
                default:
                    yield return Rows(layer, layer.FindWeight(prefix + "kernel") is not null ? prefix + "kernel" : prefix + "W", -1, count);
                    break;
            }
        }
    }

    private static Tensor Rows(KerasLayer layer, string weight, int axis, int count)
    {
        var w = layer.FindWeight(weight)?.Value ?? throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has no weight '{weight}'.");
        return w.movedim(new long[] { axis }, new long[] { 0 }).reshape(count, -1);
    }
}
