using Surgeon.Generators.Json;

namespace Surgeon.Generators.Architecture;

/// <summary>
/// Which layers have output channels a DeleteChannels job can delete, and how many: the same rule as
/// Surgeon.Runtime's <c>LayerChannels.Count</c> (a test keeps the two in agreement on every fixture).
/// </summary>
internal static class ChannelRule
{
    public static int? ChannelCount(string className, JsonObject config) => className switch
    {
        "Dense" or "SimpleRNN" or "GRU" or "LSTM" => config.Int("units", "output_dim"),
        "Embedding" => config.Int("output_dim"),
        "Conv1D" or "Conv2D" or "Conv3D" or "Convolution1D" or "Convolution2D" or "Convolution3D" => config.Int("filters", "nb_filter"),
        "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose" or "SeparableConv1D" or "SeparableConv2D" => config.Int("filters"),
        "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D" => config.Int("filters"),
        "Bidirectional" => Wrapped(config) is var (c, inner) && c is "SimpleRNN" or "GRU" or "LSTM" ? ChannelCount(c!, inner!) : null,
        "TimeDistributed" => Wrapped(config) is var (c, inner) && c is not (null or "Bidirectional" or "TimeDistributed" or "Embedding") ? ChannelCount(c, inner!) : null,
        _ => null,
    };

    /// <summary>The width the fingerprint records: the first whole number among units, filters, output_dim, nb_filter; for a wrapper, its wrapped layer's.</summary>
    public static int? Width(JsonObject config) =>
        config.Int("units") ?? config.Int("filters") ?? config.Int("output_dim") ?? config.Int("nb_filter")
        ?? (config["layer"] is JsonObject inner && inner["config"] is JsonObject innerConfig ? Width(innerConfig) : null);

    private static (string? ClassName, JsonObject? Config) Wrapped(JsonObject config) =>
        config["layer"] is JsonObject inner && inner["config"] is JsonObject innerConfig && inner.String("class_name") is { } cls
            ? (cls, innerConfig)
            : (null, null);
}
