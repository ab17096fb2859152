using Surgeon.Generators.Json;

namespace Surgeon.Generators.Architecture;

/// <summary>
/// Which layers have output channels a DeleteChannels job can delete, and how many: the same rule as
/// Surgeon.Runtime's <c>ArchitectureFingerprint.ChannelCount</c> (a test keeps the two in agreement).
/// </summary>
internal static class ChannelRule
{
    public static int? ChannelCount(string className, JsonObject config) => className switch
    {
        "Dense" or "SimpleRNN" or "GRU" or "LSTM" => config.Int("units", "output_dim"),
        "Conv1D" or "Conv2D" or "Conv3D" or "Convolution1D" or "Convolution2D" or "Convolution3D" => config.Int("filters", "nb_filter"),
        "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose" or "SeparableConv1D" or "SeparableConv2D" => config.Int("filters"),
        _ => null,
    };
}
