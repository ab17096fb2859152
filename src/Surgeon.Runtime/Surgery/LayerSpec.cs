using System.Globalization;
using System.Text.Json.Nodes;
using TorchSharp;

namespace Surgeon;

/// <summary>
/// A layer to insert into a model or to put in place of one: its Keras class name and config, and optionally its
/// weights. Without weights the layer is initialised as Keras would build it (its config's initializers, seeded by
/// <see cref="Seed"/>). The config and weights are copied when the surgery runs; the spec can be reused.
/// </summary>
public sealed class LayerSpec
{
    /// <summary>A layer of Keras class <paramref name="className"/> with <paramref name="config"/> (copied).</summary>
    public LayerSpec(string className, JsonObject? config = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(className);
        ClassName = className;
        Config = (JsonObject?)config?.DeepClone() ?? new JsonObject();
    }

    /// <summary>Keras class name, e.g. <c>Dense</c>.</summary>
    public string ClassName { get; }

    /// <summary>The layer's Keras config (a private copy).</summary>
    public JsonObject Config { get; }

    /// <summary>The layer's name, or null to get a free name made from the class (<c>dropout</c>, <c>dropout_1</c>...).</summary>
    public string? Name { get; init; }

    /// <summary>
    /// The layer's variables by Keras name (<c>kernel</c>, <c>bias</c>, <c>gamma</c>...), or null to initialise them.
    /// Given weights must match the names and shapes the layer needs at its position; they are copied to the model's
    /// device.
    /// </summary>
    public IReadOnlyDictionary<string, torch.Tensor>? Weights { get; init; }

    /// <summary>The seed for initialising weights that are not given.</summary>
    public long Seed { get; init; }

    /// <summary>A fully connected layer.</summary>
    public static LayerSpec Dense(int units, string activation = "linear", bool useBias = true, string? name = null)
    {
        if (units <= 0) throw new ArgumentOutOfRangeException(nameof(units), units, "A Dense layer needs at least one unit.");
        return new LayerSpec("Dense", new JsonObject { ["units"] = units, ["activation"] = activation, ["use_bias"] = useBias }) { Name = name };
    }

    /// <summary>A 1-D convolution (stride 1, channels last).</summary>
    public static LayerSpec Conv1D(int filters, int kernelSize, string padding = "valid", string activation = "linear", bool useBias = true, string? name = null) =>
        Conv(1, filters, kernelSize, padding, activation, useBias, name);

    /// <summary>A 2-D convolution (square kernel, stride 1, channels last).</summary>
    public static LayerSpec Conv2D(int filters, int kernelSize, string padding = "valid", string activation = "linear", bool useBias = true, string? name = null) =>
        Conv(2, filters, kernelSize, padding, activation, useBias, name);

    private static LayerSpec Conv(int rank, int filters, int kernelSize, string padding, string activation, bool useBias, string? name)
    {
        var className = $"Conv{rank}D";
        if (filters <= 0) throw new ArgumentOutOfRangeException(nameof(filters), filters, $"A {className} layer needs at least one filter.");
        if (kernelSize <= 0) throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, "The kernel size must be positive.");
        if (!(padding is "valid" or "same" || (rank == 1 && padding == "causal")))
            throw new ArgumentOutOfRangeException(nameof(padding), padding, rank == 1 ? "Padding is 'valid', 'same' or 'causal'." : "Padding is 'valid' or 'same'.");
        return new LayerSpec(className, new JsonObject
        {
            ["filters"] = filters,
            ["kernel_size"] = Repeat(kernelSize, rank),
            ["strides"] = Repeat(1, rank),
            ["padding"] = padding,
            ["data_format"] = "channels_last",
            ["dilation_rate"] = Repeat(1, rank),
            ["activation"] = activation,
            ["use_bias"] = useBias,
        }) { Name = name };
    }

    private static JsonArray Repeat(int value, int rank) => new(Enumerable.Repeat(value, rank).Select(v => (JsonNode?)v).ToArray());

    /// <summary>
    /// A pooling layer: <paramref name="className"/> is MaxPooling1D/2D/3D or AveragePooling1D/2D/3D (square window,
    /// stride = window unless given, channels last). Only a shape-keeping pool (window 1, or stride 1 with "same") fits
    /// an insertion; others suit a replacement of a pool with the same output shape.
    /// </summary>
    public static LayerSpec Pooling(string className, int poolSize, int? strides = null, string padding = "valid", string? name = null)
    {
        if (className is not ("MaxPooling1D" or "MaxPooling2D" or "MaxPooling3D" or "AveragePooling1D" or "AveragePooling2D" or "AveragePooling3D"))
            throw new ArgumentOutOfRangeException(nameof(className), className, "A pooling class: MaxPooling1D/2D/3D or AveragePooling1D/2D/3D.");
        if (poolSize <= 0) throw new ArgumentOutOfRangeException(nameof(poolSize), poolSize, "The pool size must be positive.");
        if (strides is <= 0) throw new ArgumentOutOfRangeException(nameof(strides), strides, "Strides must be positive.");
        if (padding is not ("valid" or "same")) throw new ArgumentOutOfRangeException(nameof(padding), padding, "Padding is 'valid' or 'same'.");
        var rank = className[^2] - '0';
        return new LayerSpec(className, new JsonObject
        {
            ["pool_size"] = Repeat(poolSize, rank),
            ["strides"] = Repeat(strides ?? poolSize, rank),
            ["padding"] = padding,
            ["data_format"] = "channels_last",
        }) { Name = name };
    }

    /// <summary>Dropout (the identity at inference).</summary>
    public static LayerSpec Dropout(double rate, string? name = null)
    {
        if (rate is < 0 or >= 1 || double.IsNaN(rate)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        return new LayerSpec("Dropout", new JsonObject { ["rate"] = rate }) { Name = name };
    }

    /// <summary>An element-wise activation (<c>relu</c>, <c>sigmoid</c>, <c>softmax</c>...).</summary>
    public static LayerSpec Activation(string activation, string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(activation);
        return new LayerSpec("Activation", new JsonObject { ["activation"] = activation }) { Name = name };
    }

    /// <summary>Batch normalization over the last axis (initialised as Keras does: gamma 1, beta 0, mean 0, variance 1).</summary>
    public static LayerSpec BatchNormalization(double epsilon = 1e-3, double momentum = 0.99, string? name = null) =>
        new("BatchNormalization", new JsonObject { ["axis"] = -1, ["epsilon"] = epsilon, ["momentum"] = momentum, ["center"] = true, ["scale"] = true })
        {
            Name = name,
        };

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{ClassName}{(Name is null ? "" : $" '{Name}'")} {Config.ToJsonString()}");
}
