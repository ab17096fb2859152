using static Surgeon.ConfigValues;

namespace Surgeon.IO;

/// <summary>Checks that the weights a file holds for a layer have the shapes its config implies.</summary>
internal static class WeightShapes
{
    public static void Check(string? file, LayerSite site, IReadOnlyList<KerasWeight> weights)
    {
        var c = site.Config;
        void Expect(string weight, Func<long[], bool> ok, string expected)
        {
            var w = weights.FirstOrDefault(x => x.Name == weight);
            if (w is not null && !ok(w.Shape))
                throw new KerasFormatException(file, $"weight '{weight}' has shape [{string.Join(", ", w.Shape)}] but the layer config implies {expected}.", site.Name, w.StoredName ?? weight);
        }
        var units = Int(c, "units", "output_dim");
        var filters = Int(c, "filters", "nb_filter");
        switch (site.ClassName)
        {
            case "Dense":
                Expect("kernel", s => s.Length == 2 && s[1] == units, $"[*, {units}]");
                Expect("bias", s => s.Length == 1 && s[0] == units, $"[{units}]");
                break;
            case "Conv1D" or "Conv2D" or "Conv3D":
                {
                    var rank = site.ClassName[4] - '0';
                    Expect("kernel", s => s.Length == rank + 2 && s[^1] == filters, $"a rank-{rank + 2} kernel ending in {filters}");
                    Expect("bias", s => s.Length == 1 && s[0] == filters, $"[{filters}]");
                    break;
                }
            case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                {
                    var rank = site.ClassName[4] - '0';
                    Expect("kernel", s => s.Length == rank + 2 && s[^2] == filters, $"a rank-{rank + 2} kernel of shape [..., {filters}, in]");
                    Expect("bias", s => s.Length == 1 && s[0] == filters, $"[{filters}]");
                    break;
                }
            case "DepthwiseConv1D" or "DepthwiseConv2D":
                {
                    var multiplier = Int(c, "depth_multiplier") ?? 1;
                    Expect("depthwise_kernel", s => s.Length >= 3 && s[^1] == multiplier, $"a kernel ending in depth_multiplier {multiplier}");
                    break;
                }
            case "SeparableConv1D" or "SeparableConv2D":
                Expect("pointwise_kernel", s => s.Length >= 3 && s[^1] == filters, $"a pointwise kernel ending in {filters}");
                Expect("bias", s => s.Length == 1 && s[0] == filters, $"[{filters}]");
                break;
            case "BatchNormalization" or "LayerNormalization":
                {
                    var first = weights.FirstOrDefault();
                    if (first is null) break;
                    foreach (var w in weights)
                    {
                        if (!w.Shape.SequenceEqual(first.Shape))
                            throw new KerasFormatException(file, $"weights '{first.Name}' [{string.Join(", ", first.Shape)}] and '{w.Name}' [{string.Join(", ", w.Shape)}] should have the same shape.", site.Name, w.StoredName);
                    }
                    break;
                }
            case "Embedding":
                {
                    var inputDim = Int(c, "input_dim");
                    Expect("embeddings", s => s.Length == 2 && s[0] == inputDim && s[1] == units, $"[{inputDim}, {units}]");
                    break;
                }
            case "SimpleRNN" or "GRU" or "LSTM":
                {
                    var gates = site.ClassName switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
                    var n = units * gates;
                    Expect("kernel", s => s.Length == 2 && s[1] == n, $"[*, {n}]");
                    Expect("recurrent_kernel", s => s.Length == 2 && s[0] == units && s[1] == n, $"[{units}, {n}]");
                    Expect("bias", s => s[^1] == n && s.Length <= 2, $"[{n}] (or [2, {n}] for GRU reset_after)");
                    break;
                }
        }
    }
}
