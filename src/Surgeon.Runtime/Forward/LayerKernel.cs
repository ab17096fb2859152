using static TorchSharp.torch;

namespace Surgeon.Forward;

/// <summary>
/// The inputs of one layer call: tensors in Keras's logical layout (the layout the layer's <c>data_format</c> names;
/// channels_last images are (N, H, W, C)), and their Keras masks (null where a tensor carries none).
/// </summary>
internal readonly record struct KernelInputs(IReadOnlyList<Tensor> Tensors, IReadOnlyList<Tensor?> Masks)
{
    public Tensor this[int i] => Tensors[i];

    public int Count => Tensors.Count;

    /// <summary>The mask of the first input, if any.</summary>
    public Tensor? Mask => Masks.Count > 0 ? Masks[0] : null;
}

/// <summary>What a layer call produced: its output tensors and, where Keras propagates one, an output mask.</summary>
internal readonly record struct KernelOutputs(IReadOnlyList<Tensor> Tensors, Tensor? Mask = null)
{
    public static implicit operator KernelOutputs(Tensor single) => new(new[] { single });
}

/// <summary>
/// One Keras layer made executable: weights converted once at construction to the layout TorchSharp wants, on the
/// model's device; <see cref="Forward"/> runs one call. Kernels never dispose their inputs; intermediate tensors
/// live in the runner's dispose scope.
/// </summary>
internal abstract class LayerKernel : IDisposable
{
    private readonly List<Tensor> _owned = new();

    protected LayerKernel(KerasLayer layer) => Layer = layer;

    /// <summary>The layer this kernel runs.</summary>
    public KerasLayer Layer { get; }

    /// <summary>Runs one call of the layer.</summary>
    public abstract KernelOutputs Forward(KernelInputs inputs, ForwardContext context);

    /// <summary>
    /// By default a layer passes its first input's mask through (activations, dropout, normalisation ...). Kernels that
    /// consume, create or reshape masks override <see cref="Forward"/>'s mask in their output.
    /// </summary>
    protected static KernelOutputs Same(Tensor output, KernelInputs inputs) => new(new[] { output }, inputs.Mask);

    /// <summary>The weight <paramref name="name"/> of the layer as a detached copy owned by this kernel.</summary>
    protected Tensor Weight(string name, Func<Tensor, Tensor>? convert = null)
    {
        var w = Layer.FindWeight(name) ?? throw new SurgeonException($"Layer '{Layer.Name}' ({Layer.ClassName}) has no weight '{name}'.");
        return Own(convert is null ? w.Value.detach().clone() : convert(w.Value.detach()).contiguous());
    }

    /// <summary>The weight <paramref name="name"/>, or null if the layer has none (e.g. no bias).</summary>
    protected Tensor? OptionalWeight(string name, Func<Tensor, Tensor>? convert = null) =>
        Layer.FindWeight(name) is null ? null : Weight(name, convert);

    /// <summary>Keeps <paramref name="t"/> alive as long as the kernel (outside any dispose scope).</summary>
    protected Tensor Own(Tensor t)
    {
        t.DetachFromDisposeScope();
        _owned.Add(t);
        return t;
    }

    public virtual void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}

/// <summary>Per-call settings every kernel can read.</summary>
/// <param name="Training">Keras's <c>training</c> flag (dropout and noise are identity when false).</param>
/// <param name="KerasMajorVersion">Major Keras version of the file (hard_sigmoid changed between Keras 2 and 3).</param>
/// <param name="TheanoKernels">
/// The file was saved with the Theano backend, whose convolution kernels are stored flipped (Theano convolves, the
/// other backends correlate; Keras flips them with <c>convert_kernel</c> when loading them elsewhere).
/// </param>
internal sealed record ForwardContext(bool Training, int KerasMajorVersion, bool TheanoKernels = false);
