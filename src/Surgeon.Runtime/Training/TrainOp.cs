using Surgeon.Forward;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>Settings of one pass of the trainable graph.</summary>
internal sealed record StepContext
{
    /// <summary>Keras's <c>training</c> flag: batch statistics, dropout and noise active, moving statistics updated.</summary>
    public bool Training { get; init; }

    /// <summary>Random numbers for dropout and noise (on the model's device); null uses TorchSharp's default generator.</summary>
    public Generator? Random { get; init; }

    /// <summary>Major Keras version of the file (activations whose definition changed).</summary>
    public int KerasMajorVersion { get; init; } = 2;

    /// <summary>Convolution kernels were saved by Theano (stored flipped).</summary>
    public bool TheanoKernels { get; init; }

    /// <summary>BatchNormalization updates its moving variance with the unbiased batch variance.</summary>
    public bool UnbiasedMovingVariance { get; init; }

    /// <summary>Whether a training pass updates BatchNormalization's moving statistics (false for probes such as gradient checks).</summary>
    public bool UpdateStatistics { get; init; } = true;
}

/// <summary>
/// One Keras layer as differentiable TorchSharp operations. Weights are read from the <see cref="ParameterSet"/>'s
/// leaf tensors in Keras layout at every call, so layout conversions are part of the autograd graph.
/// </summary>
internal abstract class TrainOp(KerasLayer layer)
{
    /// <summary>The layer this op runs.</summary>
    public KerasLayer Layer { get; } = layer;

    /// <summary>Runs one call of the layer; every supported layer has one output.</summary>
    public abstract Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context);

    /// <summary>Runs one call that may have several outputs (nested models).</summary>
    public virtual IReadOnlyList<Tensor> ForwardAll(IReadOnlyList<Tensor> inputs, StepContext context) => new[] { Forward(inputs, context) };

    /// <summary>Whether the layer's last operation is a softmax over the last axis (its input is then the logits).</summary>
    public virtual bool EndsInSoftmax => false;

    /// <summary>The input of the final softmax, when <see cref="EndsInSoftmax"/>.</summary>
    public virtual Tensor PreSoftmax(IReadOnlyList<Tensor> inputs, StepContext context) =>
        throw new InvalidOperationException($"Layer '{Layer.Name}' does not end in a softmax.");

    /// <summary>The layer's activation setting, checked to be one Surgeon knows.</summary>
    protected static string? ReadActivation(KerasLayer layer)
    {
        var name = String(layer.ConfigNode, "activation");
        return Activations.IsKnown(name)
            ? name
            : throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses activation '{name}', which Surgeon does not know.");
    }
}

/// <summary>
/// A weightless layer run by its inference kernel (pooling and global pooling): the same code as the forward pass,
/// differentiable as it stands, so the two cannot drift apart.
/// </summary>
internal sealed class KernelOp(KerasLayer layer) : TrainOp(layer)
{
    private static readonly ForwardContext s_context = new(false, 2);
    private readonly LayerKernel _kernel = KernelFactory.Create(layer, s_context);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) =>
        _kernel.Forward(new KernelInputs(inputs.ToArray(), new Tensor?[inputs.Count]), s_context).Tensors[0];
}

/// <summary>A layer whose output is <c>activation(pre(x))</c>, where the activation may be the final softmax.</summary>
internal abstract class ActivatedOp(KerasLayer layer) : TrainOp(layer)
{
    private readonly string? _activation = ReadActivation(layer);

    /// <summary>The value before the activation.</summary>
    protected abstract Tensor PreActivation(IReadOnlyList<Tensor> inputs, StepContext context);

    public override Tensor Forward(IReadOnlyList<Tensor> inputs, StepContext context) =>
        Activations.Apply(_activation, PreActivation(inputs, context), context.KerasMajorVersion);

    public override bool EndsInSoftmax => _activation == "softmax";

    public override Tensor PreSoftmax(IReadOnlyList<Tensor> inputs, StepContext context) => PreActivation(inputs, context);
}
