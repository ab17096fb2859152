using System.Text.Json.Nodes;

namespace Surgeon;

/// <summary>
/// What Surgeon knows about Keras layer classes: which classes it understands, and the names and order of their
/// variables (needed where a format stores variables by position only, as Keras 3's <c>vars/0</c>, <c>vars/1</c>).
/// </summary>
public static class LayerCatalog
{
    private static readonly HashSet<string> s_known = new(StringComparer.Ordinal)
    {
        "InputLayer", "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
        "GlobalAveragePooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
        "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Flatten", "Reshape", "Permute",
        "RepeatVector", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU",
        "ThresholdedReLU", "Softmax", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
        "Embedding", "SimpleRNN", "GRU", "LSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Bidirectional", "TimeDistributed",
        "Attention", "AdditiveAttention", "MultiHeadAttention", "Masking", "Rescaling", "Normalization",
        "Sequential", "Functional", "Model",
        "LocallyConnected1D", "LocallyConnected2D",
        // Keras 1 names
        "Convolution1D", "Convolution2D", "Convolution3D", "Merge", "TimeDistributedDense",
    };

    private static readonly HashSet<string> s_nonTrainable = new(StringComparer.Ordinal)
    {
        "moving_mean", "moving_variance", "running_mean", "running_std", "mean", "variance", "count",
    };

    /// <summary>Whether Surgeon understands layers of this class (others are carried as opaque layers).</summary>
    public static bool IsKnown(string className) => s_known.Contains(className);

    /// <summary>Whether a variable of this short name is trainable in Keras.</summary>
    internal static bool IsTrainableVariable(string className, string name)
    {
        var last = name[(name.LastIndexOf('/') + 1)..];
        return !(s_nonTrainable.Contains(last) && className is "BatchNormalization" or "Normalization" or "BatchNorm");
    }

    /// <summary>
    /// The short names, in Keras order, of the variables a layer of this class and config has; null when the class
    /// is unknown or its variables cannot be listed from the config alone.
    /// </summary>
    internal static string[]? VariableNames(string className, JsonObject config)
    {
        bool Flag(string key, bool dflt = true) => config[key] is JsonValue v && v.TryGetValue(out bool b) ? b : dflt;
        string[] WithBias(params string[] names) => Flag("use_bias") ? names.Append("bias").ToArray() : names;
        switch (className)
        {
            case "Dense" or "LocallyConnected1D" or "LocallyConnected2D":
            case "Conv1D" or "Conv2D" or "Conv3D" or "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                return WithBias("kernel");
            case "DepthwiseConv1D" or "DepthwiseConv2D":
                return WithBias("depthwise_kernel");
            case "SeparableConv1D" or "SeparableConv2D":
                return WithBias("depthwise_kernel", "pointwise_kernel");
            case "BatchNormalization":
                {
                    var names = new List<string>();
                    if (Flag("scale")) names.Add("gamma");
                    if (Flag("center")) names.Add("beta");
                    names.Add("moving_mean");
                    names.Add("moving_variance");
                    return names.ToArray();
                }
            case "LayerNormalization" or "GroupNormalization":
                {
                    var names = new List<string>();
                    if (Flag("scale")) names.Add("gamma");
                    if (Flag("center")) names.Add("beta");
                    return names.ToArray();
                }
            case "PReLU":
                return new[] { "alpha" };
            case "Embedding":
                return new[] { "embeddings" };
            case "SimpleRNN" or "GRU" or "LSTM" or "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                return WithBias("kernel", "recurrent_kernel");
            case "Bidirectional":
                {
                    if (ConfigValues.Wrapped(config, "layer") is not var (innerClass, innerConfig) || VariableNames(innerClass, innerConfig) is not { } innerNames)
                        return null;
                    return innerNames.Select(n => "forward/" + n).Concat(innerNames.Select(n => "backward/" + n)).ToArray();
                }
            case "TimeDistributed":
                {
                    if (ConfigValues.Wrapped(config, "layer") is not var (innerClass, innerConfig))
                        return null;
                    return VariableNames(innerClass, innerConfig);
                }
            case "MultiHeadAttention":
                {
                    var parts = new[] { "query", "key", "value", "attention_output" };
                    return parts.SelectMany(p => Flag("use_bias") ? new[] { p + "/kernel", p + "/bias" } : new[] { p + "/kernel" }).ToArray();
                }
            case "Attention":
                {
                    var names = new List<string>();
                    if (Flag("use_scale", false)) names.Add("scale");
                    if (config["score_mode"] is JsonValue sm && sm.TryGetValue(out string? mode) && mode == "concat") names.Add("concat_score_weight");
                    return names.ToArray();
                }
            case "AdditiveAttention":
                return Flag("use_scale") ? new[] { "scale" } : Array.Empty<string>();
            case "Normalization":
                // Statistics given to the constructor live in the config; adapted ones are variables.
                return config["mean"] is JsonArray or JsonValue ? Array.Empty<string>() : new[] { "mean", "variance", "count" };
            case "Convolution1D" or "Convolution2D" or "Convolution3D" or "Merge" or "TimeDistributedDense":
                return null; // Keras 1: variables follow the Keras 1 layout
            default:
                return IsKnown(className) ? Array.Empty<string>() : null;
        }
    }

    /// <summary>
    /// The short name of a stored variable: <c>dense_1/kernel:0</c> gives <c>kernel</c>,
    /// <c>bidirectional/forward_lstm/lstm_cell/kernel:0</c> gives <c>forward/kernel</c>, Keras 1's
    /// <c>dense_1_W</c> gives <c>kernel</c>.
    /// </summary>
    internal static string ShortName(string stored, string layerName, string className)
    {
        var name = stored.EndsWith(":0", StringComparison.Ordinal) ? stored[..^2] : stored;
        var parts = name.Split('/').ToList();
        if (parts.Count > 1 && parts[0] == layerName) parts.RemoveAt(0);
        if (parts.Count == 1)
        {
            var p = parts[0];
            if (p.StartsWith(layerName + "_", StringComparison.Ordinal) && p.Length > layerName.Length + 1)
            {
                // Keras 1: "<layer>_W", "<layer>_b", "<layer>_running_mean", "<layer>_W_i"
                p = p[(layerName.Length + 1)..];
                p = p switch { "W" => "kernel", "b" => "bias", "U" => "recurrent_kernel", "running_mean" => "moving_mean", "running_std" => "moving_variance", _ => p };
            }
            return p;
        }
        // Variable scopes above the last component name the layer (possibly under another name, e.g. "conv1_1"
        // after a rename, or the model for Keras 3 Sequential) or an inner cell: only wrappers keep a prefix.
        var kept = new List<string>();
        if (className == "Bidirectional")
        {
            var side = parts.Take(parts.Count - 1).FirstOrDefault(p => p.StartsWith("forward", StringComparison.Ordinal) || p.StartsWith("backward", StringComparison.Ordinal));
            if (side is not null) kept.Add(side.StartsWith("forward", StringComparison.Ordinal) ? "forward" : "backward");
        }
        else if (className == "MultiHeadAttention" && parts.Count >= 2)
        {
            kept.Add(parts[^2]);
        }
        kept.Add(parts[^1]);
        return string.Join("/", kept);
    }
}
