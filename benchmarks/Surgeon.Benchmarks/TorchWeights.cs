using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Surgeon.Benchmarks;

/// <summary>Copies a Keras model's weights into TorchSharp modules, converting Keras layouts to PyTorch's.</summary>
internal static class TorchWeights
{
    /// <summary>Conv2D: kernel (kh, kw, in, out) to weight (out, in, kh, kw); bias as is.</summary>
    public static void Conv(Conv2d conv, KerasModel model, string layer)
    {
        using var _ = no_grad();
        var l = Layer(model, layer);
        Copy(conv.weight!, Value(l, "kernel").permute(3, 2, 0, 1), layer);
        Copy(conv.bias!, Value(l, "bias"), layer);
    }

    /// <summary>BatchNormalization: gamma, beta, moving_mean, moving_variance to weight, bias, running_mean, running_var.</summary>
    public static void BatchNorm(BatchNorm2d bn, KerasModel model, string layer)
    {
        using var _ = no_grad();
        var l = Layer(model, layer);
        Copy(bn.weight!, Value(l, "gamma"), layer);
        Copy(bn.bias!, Value(l, "beta"), layer);
        Copy(bn.running_mean!, Value(l, "moving_mean"), layer);
        Copy(bn.running_var!, Value(l, "moving_variance"), layer);
    }

    /// <summary>
    /// Dense: kernel (in, out) to weight (out, in). <paramref name="reorderInputs"/> maps the Keras kernel's rows to
    /// the module's input order (e.g. Keras's NHWC Flatten order to NCHW's).
    /// </summary>
    public static void Dense(Linear linear, KerasModel model, string layer, Func<Tensor, Tensor>? reorderInputs = null)
    {
        using var _ = no_grad();
        var l = Layer(model, layer);
        var kernel = Value(l, "kernel");
        Copy(linear.weight!, (reorderInputs is null ? kernel : reorderInputs(kernel)).t(), layer);
        Copy(linear.bias!, Value(l, "bias"), layer);
    }

    /// <summary>
    /// Gives every BatchNormalization layer seeded random statistics and affine parameters (gamma and variance in
    /// [0.5, 1.5), beta and mean in [-0.1, 0.1)), so that they are not the identity the default initialisers make
    /// and the agreement check covers their conversion too. Scales stay near 1, so activations do not blow up.
    /// </summary>
    public static void RandomizeBatchNorm(KerasModel model, long seed)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var layer in model.Layers.Where(l => l.ClassName == "BatchNormalization"))
        {
            foreach (var w in layer.Weights)
            {
                var (low, high) = w.Name is "gamma" or "moving_variance" ? (0.5, 1.5) : (-0.1, 0.1);
                using var r = rand(w.Value.shape, generator: generator);
                w.Value.copy_(r * (high - low) + low);
            }
        }
    }

    private static KerasLayer Layer(KerasModel model, string name) =>
        model.FindLayer(name) ?? throw new InvalidOperationException($"The Keras model has no layer '{name}'.");

    private static Tensor Value(KerasLayer layer, string weight) =>
        (layer.FindWeight(weight) ?? throw new InvalidOperationException($"Layer '{layer.Name}' has no weight '{weight}'.")).Value;

    private static void Copy(Tensor target, Tensor source, string layer)
    {
        if (!target.shape.SequenceEqual(source.shape))
            throw new InvalidOperationException($"Layer '{layer}': weight of shape [{string.Join(", ", source.shape)}] does not fit [{string.Join(", ", target.shape)}].");
        target.copy_(source);
    }
}
