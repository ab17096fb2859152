using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>How <see cref="Apoz.HighApoz"/> sets its cutoff (keras-surgeon's <c>method</c>).</summary>
public enum ApozMethod
{
    /// <summary>mean + cutoffStd x std of the layer's APoZ values (population std), capped at 1.</summary>
    Std,
    /// <summary>cutoffAbsolute.</summary>
    Absolute,
    /// <summary>The lower of the two cutoffs: channels above either are selected.</summary>
    Both,
}

/// <summary>Progress of a streaming computation over a data set.</summary>
/// <param name="Batches">Batches done.</param>
/// <param name="Samples">Samples done.</param>
public sealed record DataProgress(int Batches, long Samples);

/// <summary>
/// Average Percentage of Zeros (Hu et al. 2016, "Network Trimming"): for each channel of a layer, the fraction of its
/// activations that are exactly zero over a data set, counted where the layer's activation is applied. Computed as
/// keras-surgeon does (every sample and spatial position of every call pooled), with its gap fixed: ReLU, LeakyReLU,
/// PReLU, ELU and ThresholdedReLU layers count as the activation, and a walk to the activation that would cross a
/// branch or a layer mixing channels is an error instead of silently measuring another tensor.
/// </summary>
public static class Apoz
{
    private static readonly HashSet<string> s_activationLayers = new(StringComparer.Ordinal) { "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax" };

    // Layers the walk may cross: they act on each channel alone and keep the shape.
    private static readonly HashSet<string> s_perChannel = new(StringComparer.Ordinal)
    {
        "BatchNormalization", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    };

    /// <summary>
    /// The layer whose output is <paramref name="layer"/>'s activation: the layer itself if its own activation is not
    /// linear, else the first activation after it through per-channel layers (BatchNormalization, dropout).
    /// </summary>
    /// <exception cref="SurgeonException">No activation follows, or the way to it branches or crosses a layer that mixes channels.</exception>
    public static string FindActivationLayer(KerasModel model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        var current = model.RequireLayer(layer);
        while (true)
        {
            if (IsActivation(current)) return current.Name;
            var consumers = model.Consumers(current.Name);
            if (consumers.Count == 0)
                throw new SurgeonException($"No activation follows layer '{layer}' (the walk ends at '{current.Name}'); APoZ counts zeros after an activation such as ReLU.");
            if (consumers.Count > 1)
                throw new SurgeonException($"The output of '{current.Name}' branches ({string.Join(", ", consumers.Select(c => $"'{c.Name}'"))}) before any activation after layer '{layer}'; APoZ would be ambiguous.");
            var next = consumers[0];
            if (!IsActivationLayer(next) && !s_perChannel.Contains(next.ClassName))
                throw new SurgeonException($"Layer '{next.Name}' ({next.ClassName}) lies between layer '{layer}' and its activation and changes its channels or shape; APoZ would measure another tensor.");
            current = next;
        }
    }

    // A layer that is only an activation (not a Dense or convolution with one: those mix channels first).
    private static bool IsActivationLayer(KerasLayer layer) => layer.ClassName == "Activation" || s_activationLayers.Contains(layer.ClassName);

    private static bool IsActivation(KerasLayer layer) =>
        s_activationLayers.Contains(layer.ClassName)
        || (String(layer.ConfigNode, "activation") is { } a && a != "linear")
        || (layer.ConfigNode["activation"] is System.Text.Json.Nodes.JsonObject);

    /// <summary>APoZ of every channel of <paramref name="layer"/> over <paramref name="data"/>, in batches of <paramref name="batchSize"/> (single-input models).</summary>
    public static double[] Compute(KerasModel model, string layer, Tensor data, int batchSize = 64, IProgress<DataProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Compute(model, layer, Batches(data, batchSize), progress, cancellation);
    }

    /// <summary>
    /// APoZ of every channel of <paramref name="layer"/>, streaming over <paramref name="batches"/> (one tensor per model
    /// input each) on the model's device; only the zero counts are kept between batches.
    /// </summary>
    public static double[] Compute(KerasModel model, string layer, IEnumerable<IReadOnlyList<Tensor>> batches, IProgress<DataProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var target = model.RequireLayer(layer);
        var activation = FindActivationLayer(model, layer);
        using var runner = ModelRunner.Create(model);
        Tensor? zeros = null;
        long rows = 0, samples = 0;
        var count = 0;
        try
        {
            foreach (var batch in batches)
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var inputs = batch.Select(t => t.to(model.Device)).ToArray();
                using var result = runner.Forward(inputs, new[] { activation });
                foreach (var a in result.LayerOutputs[activation])
                {
                    // The channel axis is the analysed layer's (keras-surgeon reads data_format from it).
                    var (axis, _) = ChannelDeletion.ChannelPositions(target, (int)a.dim(), 0, Array.Empty<int>());
                    var channels = a.shape[axis];
                    var flat = a.movedim(new long[] { axis }, new long[] { -1 }).reshape(-1, channels);
                    var batchZeros = flat.eq(0).sum(0, type: ScalarType.Int64);
                    if (zeros is null) zeros = batchZeros.DetachFromDisposeScope();
                    else zeros.add_(batchZeros);
                    rows += flat.shape[0];
                }
                samples += inputs[0].shape[0];
                progress?.Report(new DataProgress(++count, samples));
            }
            if (zeros is null || rows == 0) throw new SurgeonException($"APoZ of layer '{layer}': the data set is empty.");
            return TensorValues.ToDoubles(zeros).Select(z => z / rows).ToArray();
        }
        finally
        {
            zeros?.Dispose();
        }
    }

    /// <summary>
    /// The channels with high APoZ, as keras-surgeon's <c>high_apoz</c>: those at or above the cutoff (capped at 1). One
    /// fix: when every channel has the same APoZ (std 0) the <see cref="ApozMethod.Std"/> cutoff equals the mean and
    /// keras-surgeon selected them all; here only channels that are always zero (APoZ 1) are selected then.
    /// </summary>
    public static int[] HighApoz(IReadOnlyList<double> apoz, ApozMethod method = ApozMethod.Std, double cutoffStd = 1, double cutoffAbsolute = 0.99)
    {
        ArgumentNullException.ThrowIfNull(apoz);
        if (apoz.Count == 0) return Array.Empty<int>();
        var mean = apoz.Average();
        var std = Math.Sqrt(apoz.Select(v => (v - mean) * (v - mean)).Average());
        var cutoff = method switch
        {
            ApozMethod.Std => mean + cutoffStd * std,
            ApozMethod.Absolute => cutoffAbsolute,
            ApozMethod.Both => Math.Min(cutoffAbsolute, mean + cutoffStd * std),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown APoZ method."),
        };
        if (method != ApozMethod.Absolute && std == 0) cutoff = Math.Max(cutoff, 1);
        cutoff = Math.Min(cutoff, 1);
        return Enumerable.Range(0, apoz.Count).Where(i => apoz[i] >= cutoff).ToArray();
    }

    /// <summary>Splits <paramref name="data"/> along its first axis into batches (views, no copies).</summary>
    internal static IEnumerable<IReadOnlyList<Tensor>> Batches(Tensor data, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var n = data.shape[0];
        for (long start = 0; start < n; start += batchSize)
        {
            var slice = data.narrow(0, start, Math.Min(batchSize, n - start));
            yield return new[] { slice };
            slice.Dispose(); // the consumer asked for the next batch: this view is done
        }
    }
}
