using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// A Keras loss, averaged over the batch. For the cross-entropies with <c>fromLogits: false</c> (Keras's default),
/// a model whose output layer ends in a softmax over the last axis (a Dense or convolution with
/// <c>activation='softmax'</c>, an <c>Activation('softmax')</c> or <c>Softmax()</c> layer) is trained from the logits
/// before that softmax, as TensorFlow Keras does: numerically stable, and equal to the clipped probability formula
/// wherever that one does not clip. Other probability outputs are clipped to [1e-7, 1 - 1e-7] as in Keras.
/// </summary>
public sealed class TrainingLoss
{
    private const double Epsilon = 1e-7; // Keras's backend epsilon

    private TrainingLoss(LossKind kind, bool fromLogits)
    {
        Kind = kind;
        FromLogits = fromLogits;
    }

    /// <summary>Which loss.</summary>
    public LossKind Kind { get; }

    /// <summary>Whether the model's outputs are taken as logits (cross-entropies only).</summary>
    public bool FromLogits { get; }

    /// <summary>Whether accuracy is defined for this loss (the cross-entropies: arg-max of the output against the label).</summary>
    public bool HasAccuracy => Kind != LossKind.MeanSquaredError;

    /// <summary>
    /// Keras's <c>sparse_categorical_crossentropy</c>: targets are class indices (N) or (N, 1), outputs (N, classes).
    /// </summary>
    public static TrainingLoss SparseCategoricalCrossentropy(bool fromLogits = false) => new(LossKind.SparseCategoricalCrossentropy, fromLogits);

    /// <summary>Keras's <c>categorical_crossentropy</c>: targets are one-hot or soft distributions shaped like the output.</summary>
    public static TrainingLoss CategoricalCrossentropy(bool fromLogits = false) => new(LossKind.CategoricalCrossentropy, fromLogits);

    /// <summary>Keras's <c>mean_squared_error</c>: the mean of (target - output)^2 over every element.</summary>
    public static TrainingLoss MeanSquaredError() => new(LossKind.MeanSquaredError, false);

    /// <summary>Whether the loss wants the logits before an output softmax, when the model has them.</summary>
    internal bool WantsLogits => Kind != LossKind.MeanSquaredError && !FromLogits;

    /// <summary>
    /// Per-sample losses (N) for outputs <paramref name="output"/>, given the logits before an output softmax when the
    /// graph found one (<paramref name="logits"/>), against <paramref name="target"/>.
    /// </summary>
    internal Tensor PerSample(Tensor output, Tensor? logits, Tensor target)
    {
        switch (Kind)
        {
            case LossKind.MeanSquaredError:
                {
                    var t = target.to_type(output.dtype).reshape(output.shape);
                    var sq = (output - t).square();
                    return sq.dim() > 1 ? sq.reshape(sq.shape[0], -1).mean(new long[] { 1 }) : sq;
                }
            case LossKind.SparseCategoricalCrossentropy:
                {
                    var labels = SparseLabels(target, output);
                    // Keras (TensorFlow) on probabilities: clip to [eps, 1 - eps], take the log, then a softmax
                    // cross-entropy on those logs (which renormalises).
                    var logProbabilities = FromLogits || logits is not null
                        ? LogProbabilities(output, logits)
                        : output.clamp(Epsilon, 1 - Epsilon).log().log_softmax(-1);
                    // Any leading axes beyond the batch (e.g. per-pixel classes) are averaged per sample.
                    var picked = -logProbabilities.gather(-1, labels.unsqueeze(-1)).squeeze(-1);
                    return picked.dim() > 1 ? picked.reshape(picked.shape[0], -1).mean(new long[] { 1 }) : picked;
                }
            default:
                {
                    var t = target.to_type(output.dtype);
                    if (!t.shape.SequenceEqual(output.shape))
                        throw new ArgumentException($"Categorical cross-entropy needs targets shaped like the outputs [{string.Join(", ", output.shape)}]; got [{string.Join(", ", t.shape)}] (use SparseCategoricalCrossentropy for class indices).");
                    var perPosition = -(t * LogProbabilities(output, logits)).sum(-1);
                    return perPosition.dim() > 1 ? perPosition.reshape(perPosition.shape[0], -1).mean(new long[] { 1 }) : perPosition;
                }
        }
    }

    /// <summary>Per-sample correctness (N, float: 1 right, 0 wrong, averaged over extra axes), for the cross-entropies.</summary>
    internal Tensor Correct(Tensor output, Tensor target)
    {
        var predicted = output.argmax(-1);
        var truth = Kind == LossKind.SparseCategoricalCrossentropy ? SparseLabels(target, output) : target.argmax(-1);
        var right = predicted.eq(truth).to_type(output.dtype);
        return right.dim() > 1 ? right.reshape(right.shape[0], -1).mean(new long[] { 1 }) : right;
    }

    private Tensor LogProbabilities(Tensor output, Tensor? logits)
    {
        if (FromLogits) return output.log_softmax(-1);
        if (logits is not null) return logits.log_softmax(-1);
        // Keras: scale to sum 1 over the last axis, clip to [eps, 1 - eps], take the log.
        var p = output / output.sum(-1, keepdim: true);
        return p.clamp(Epsilon, 1 - Epsilon).log();
    }

    private static Tensor SparseLabels(Tensor target, Tensor output)
    {
        var labels = target.dtype == ScalarType.Int64 ? target : target.to_type(ScalarType.Int64);
        // Keras accepts (N, 1) for outputs (N, classes): the trailing 1 is dropped.
        if (labels.dim() == output.dim() && labels.shape[^1] == 1) labels = labels.squeeze(-1);
        if (labels.dim() != output.dim() - 1)
            throw new ArgumentException($"Sparse labels must have the output's shape without its class axis ([{string.Join(", ", output.shape[..^1])}]); got [{string.Join(", ", target.shape)}].");
        return labels;
    }

    /// <inheritdoc />
    public override string ToString() => Kind == LossKind.MeanSquaredError ? "mean_squared_error" :
        (Kind == LossKind.SparseCategoricalCrossentropy ? "sparse_categorical_crossentropy" : "categorical_crossentropy") + (FromLogits ? " (from logits)" : "");
}

/// <summary>The losses <see cref="TrainingLoss"/> implements.</summary>
public enum LossKind
{
    /// <summary>Cross-entropy against class indices.</summary>
    SparseCategoricalCrossentropy,
    /// <summary>Cross-entropy against one-hot (or soft) targets.</summary>
    CategoricalCrossentropy,
    /// <summary>Mean squared error.</summary>
    MeanSquaredError,
}
