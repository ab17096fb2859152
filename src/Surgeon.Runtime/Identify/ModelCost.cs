using System.Text.Json.Nodes;
using Surgeon.Shapes;
using static Surgeon.ConfigValues;

namespace Surgeon;

/// <summary>The cost of one layer: its parameters and the multiply-accumulates one sample takes through it.</summary>
/// <param name="Name">Layer name.</param>
/// <param name="ClassName">Layer class.</param>
/// <param name="Parameters">Scalar weights (as Keras counts them).</param>
/// <param name="Macs">Multiply-accumulates per sample over all calls of the layer; null when a shape it depends on is unknown (e.g. a sequence of undefined length).</param>
public sealed record LayerCost(string Name, string ClassName, long Parameters, long? Macs);

/// <summary>
/// Parameter and MAC (multiply-accumulate) counts per layer and in total, for one sample. MACs count the linear maps
/// with weights (dense, convolutions of every kind, recurrent and ConvLSTM gates, attention projections and products);
/// element-wise work (activations, normalisation, pooling, merges) is not counted, as is usual for MAC figures.
/// </summary>
public sealed class ModelCost
{
    private ModelCost(IReadOnlyList<LayerCost> layers)
    {
        Layers = layers;
        Parameters = layers.Sum(l => l.Parameters);
        Macs = layers.All(l => l.Macs is not null) ? layers.Sum(l => l.Macs!.Value) : null;
    }

    /// <summary>Every layer, in model order.</summary>
    public IReadOnlyList<LayerCost> Layers { get; }

    /// <summary>All parameters.</summary>
    public long Parameters { get; }

    /// <summary>MACs per sample; null if some layer's are unknown.</summary>
    public long? Macs { get; }

    /// <summary>The cost of <paramref name="model"/> (a nested model counts as one layer with its own total).</summary>
    public static ModelCost Of(KerasModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return Of(model, ShapeInference.For(model));
    }

    /// <summary>The cost of <paramref name="model"/> from shapes already inferred (a summary shares its own).</summary>
    internal static ModelCost Of(KerasModel model, ShapeInference shapes)
    {
        var layers = model.Layers.Select(l => new LayerCost(l.Name, l.ClassName, l.ParameterCount, LayerMacs(model, shapes, l))).ToList();
        return new ModelCost(layers);
    }

    private static long? LayerMacs(KerasModel model, ShapeInference shapes, KerasLayer layer)
    {
        if (layer.ClassName == "InputLayer") return 0;
        long total = 0;
        for (var n = 0; n < layer.InboundNodes.Count; n++)
        {
            var inputs = layer.InboundNodes[n].Inputs
                .Select(t => shapes.OutputShapes(t.Layer, t.NodeIndex) is { } s && t.TensorIndex < s.Count ? s[t.TensorIndex] : null).ToArray();
            var outputs = shapes.OutputShapes(layer.Name, n);
            if (inputs.Any(i => i is null) || outputs is null) return null;
            long? call = layer.NestedModel is { } nested ? Of(nested).Macs : CallMacs(layer.ClassName, layer.ConfigNode, inputs!, outputs);
            if (call is null) return null;
            total += call.Value;
        }
        return total;
    }

    /// <summary>MACs of one call of a layer of class <paramref name="cls"/>; shapes include the batch axis.</summary>
    internal static long? CallMacs(string cls, JsonObject c, IReadOnlyList<int?[]> inputs, IReadOnlyList<int?[]> outputs)
    {
        var input = inputs[0];
        var output = outputs[0];
        long? Product(IEnumerable<int?> dims)
        {
            long p = 1;
            foreach (var d in dims)
            {
                if (d is null) return null;
                p *= d.Value;
            }
            return p;
        }
        var channelsFirst = ChannelsFirst(c);
        long? Channels(int?[] shape) => channelsFirst && shape.Length > 2 ? shape[1] : shape[^1];
        long? Spatial(int?[] shape) => Product(channelsFirst ? shape.Skip(2) : shape.Skip(1).Take(shape.Length - 2));
        long KernelSize(int rank) => (Ints(c, rank, "kernel_size") ?? Enumerable.Repeat(1, rank).ToArray()).Aggregate(1L, (a, k) => a * k);
        switch (cls)
        {
            case "Dense":
                return Product(input.Skip(1)) * Int(c, "units", "output_dim");
            case "Conv1D" or "Conv2D" or "Conv3D":
                {
                    var rank = cls[4] - '0';
                    var groups = Int(c, "groups") ?? 1;
                    return Spatial(output) * KernelSize(rank) * (Channels(input) / groups) * Channels(output);
                }
            case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                return Spatial(input) * KernelSize(cls[4] - '0') * Channels(input) * Channels(output);
            case "DepthwiseConv1D" or "DepthwiseConv2D":
                return Spatial(output) * KernelSize(cls[13] - '0') * Channels(output);
            case "SeparableConv1D" or "SeparableConv2D":
                {
                    var multiplier = Int(c, "depth_multiplier") ?? 1;
                    var depthwise = Channels(input) * multiplier;
                    return Spatial(output) * (KernelSize(cls[13] - '0') * depthwise + depthwise * Channels(output));
                }
            case "SimpleRNN" or "GRU" or "LSTM":
                {
                    var gates = cls switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
                    var units = (long?)Int(c, "units");
                    return input[1] * gates * units * (input[^1] + units);
                }
            case "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                {
                    var rank = cls[8] - '0';
                    var filters = (long?)Int(c, "filters");
                    var steps = input[1];
                    var inChannels = channelsFirst ? input[2] : input[^1];
                    var spatial = Product(channelsFirst ? output.Skip(output.Length - rank) : output.Skip(output.Length - rank - 1).Take(rank));
                    return steps * spatial * KernelSize(rank) * (inChannels + filters) * 4 * filters;
                }
            case "Bidirectional" or "TimeDistributed":
                {
                    if (Wrapped(c, "layer") is not var (innerClass, innerConfig)) return null;
                    if (cls == "Bidirectional")
                    {
                        var one = CallMacs(innerClass, innerConfig, inputs, outputs);
                        return one * 2;
                    }
                    // The wrapped layer sees each time step alone.
                    var stepInput = input.Where((_, i) => i != 1).ToArray();
                    var stepOutput = output.Where((_, i) => i != 1).ToArray();
                    return input[1] * CallMacs(innerClass, innerConfig, new[] { stepInput }, new[] { stepOutput });
                }
            case "MultiHeadAttention":
                {
                    // Projections of query, key and value, the scores, the weighted sum and the output projection.
                    var heads = (long?)Int(c, "num_heads");
                    var keyDim = (long?)Int(c, "key_dim");
                    var valueDim = (long?)Int(c, "value_dim") ?? keyDim;
                    var query = inputs[0];
                    var value = inputs.Count > 1 ? inputs[1] : query;
                    var key = inputs.Count > 2 ? inputs[2] : value;
                    var tq = Product(query.Skip(1).Take(query.Length - 2));
                    var tv = Product(value.Skip(1).Take(value.Length - 2));
                    var outFeatures = output[^1];
                    return tq * query[^1] * heads * keyDim + tv * key[^1] * heads * keyDim + tv * value[^1] * heads * valueDim
                        + tq * tv * heads * (keyDim + valueDim) + tq * heads * valueDim * outFeatures;
                }
            case "Attention" or "AdditiveAttention":
                {
                    var query = inputs[0];
                    var value = inputs.Count > 1 ? inputs[1] : query;
                    return Product(query.Skip(1).Take(query.Length - 2)) * Product(value.Skip(1).Take(value.Length - 2)) * query[^1] * 2;
                }
            case "LocallyConnected1D" or "LocallyConnected2D":
                return Spatial(output) * KernelSize(cls[16] - '0') * Channels(input) * Channels(output);
            default:
                return 0;
        }
    }
}
