using static TorchSharp.torch;

namespace Surgeon;

/// <summary>Options for <see cref="ModelTrainer.Create"/>: what to minimise and how.</summary>
public sealed record TrainerOptions
{
    /// <summary>The loss (default: sparse categorical cross-entropy, on probabilities or a detected softmax's logits).</summary>
    public TrainingLoss Loss { get; init; } = TrainingLoss.SparseCategoricalCrossentropy();

    /// <summary>The optimizer (default: Keras's Adam, learning rate 1e-3).</summary>
    public TrainingOptimizer Optimizer { get; init; } = TrainingOptimizer.Adam();

    /// <summary>Which batch variance BatchNormalization averages into its moving variance (default: as the file's Keras did).</summary>
    public MovingVarianceUpdate MovingVariance { get; init; } = MovingVarianceUpdate.Auto;
}

/// <summary>How BatchNormalization updates its moving variance when training.</summary>
public enum MovingVarianceUpdate
{
    /// <summary>
    /// As the Keras that saved the model did: <see cref="Unbiased"/> for standalone multi-backend Keras 2.1.3 to 2.3.x,
    /// <see cref="Biased"/> for tf.keras (versions ending in <c>-tf</c>, and 2.4 onwards), Keras 3, Keras 1 and models
    /// without a recorded version.
    /// </summary>
    Auto,
    /// <summary>The batch variance (mean of squared deviations), as tf.keras and Keras 3 do.</summary>
    Biased,
    /// <summary>The batch variance times n / (n - (1 + epsilon)), as standalone multi-backend Keras 2 does.</summary>
    Unbiased,
}

/// <summary>Options for <see cref="ModelTrainer.Fit"/>.</summary>
public sealed record FitOptions
{
    /// <summary>Passes over the training data (default 1).</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Samples per optimizer step (default 32, as Keras); the last batch of an epoch may be smaller.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Shuffle the samples before each epoch (default true, as Keras).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// Seed of the shuffling and of dropout and noise layers, for reproducible runs (default 0); null draws a seed from
    /// the system.
    /// </summary>
    public long? Seed { get; init; } = 0;

    /// <summary>Inputs of the validation data evaluated after each epoch (Keras layout), or null.</summary>
    public Tensor? ValidationX { get; init; }

    /// <summary>Targets of the validation data, or null.</summary>
    public Tensor? ValidationY { get; init; }

    /// <summary>Batch size for validation (inference only; default 256).</summary>
    public int ValidationBatchSize { get; init; } = 256;
}

/// <summary>What one epoch of <see cref="ModelTrainer.Fit"/> achieved.</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="Epochs">The number of epochs of the run.</param>
/// <param name="Steps">Optimizer steps taken in this epoch.</param>
/// <param name="Loss">Mean training loss over the epoch's samples (as Keras reports it: training mode, regularization included).</param>
/// <param name="Accuracy">Training accuracy over the epoch (training mode), or null when the loss has none.</param>
/// <param name="ValidationLoss">Loss on the validation data after the epoch (inference mode), or null without validation data.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation data, or null.</param>
/// <param name="Seconds">Wall time of the epoch, validation included.</param>
public sealed record EpochReport(int Epoch, int Epochs, int Steps, double Loss, double? Accuracy, double? ValidationLoss, double? ValidationAccuracy, double Seconds)
{
    /// <inheritdoc />
    public override string ToString()
    {
        var text = $"epoch {Epoch}/{Epochs}: {Steps} steps, loss {Loss:F4}";
        if (Accuracy is { } a) text += $", accuracy {a:P2}";
        if (ValidationLoss is { } vl) text += $", val loss {vl:F4}";
        if (ValidationAccuracy is { } va) text += $", val accuracy {va:P2}";
        return text + $", {Seconds:F1} s";
    }
}

/// <summary>Loss and accuracy of a model on a data set (inference mode).</summary>
/// <param name="Loss">Mean loss over the samples plus the weight regularization penalties, as Keras's <c>evaluate</c> reports it.</param>
/// <param name="Accuracy">Fraction of samples classified right, or null when the loss has no accuracy.</param>
/// <param name="Samples">Number of samples.</param>
public sealed record Evaluation(double Loss, double? Accuracy, long Samples);
