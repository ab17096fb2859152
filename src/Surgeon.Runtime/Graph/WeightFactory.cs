using System.Text.Json.Nodes;
using Surgeon.Shapes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// Creates the variables a layer needs from its config and input shape, initialised the way its config says
/// (<c>kernel_initializer</c> and friends: GlorotUniform, HeNormal, Orthogonal, Zeros, ...), as Keras builds a layer.
/// </summary>
internal static class WeightFactory
{
    /// <summary>A model with the same graph whose every layer gets freshly initialised weights (seeded).</summary>
    public static KerasModel Initialize(KerasModel model, long seed)
    {
        using var generator = new TorchSharp.torch.Generator((ulong)seed);
        var shapes = ShapeInference.For(model);
        var created = new List<Tensor>();
        try
        {
            return Rebuild(model, shapes, generator, created);
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }

    private static KerasModel Rebuild(KerasModel model, ShapeInference shapes, Generator generator, List<Tensor> created)
    {
        var layers = new List<KerasLayer>();
        foreach (var l in model.Layers)
        {
            KerasModel? nested = null;
            var weights = new List<KerasWeight>();
            if (l.NestedModel is { } n)
            {
                nested = Rebuild(n, ShapeInference.For(n), generator, created);
            }
            else if (l.InboundNodes.Count > 0)
            {
                var t = l.InboundNodes[0].Inputs[0];
                var input = shapes.OutputShapes(t.Layer, t.NodeIndex)?[t.TensorIndex]
                    ?? throw new SurgeonException($"Cannot create weights for layer '{l.Name}': the shape of its input is unknown.");
                var others = l.InboundNodes[0].Inputs.Skip(1).Select(r => shapes.OutputShapes(r.Layer, r.NodeIndex) is { } o && r.TensorIndex < o.Count ? o[r.TensorIndex] : null).ToArray();
                var specs = CheckedSpecs(l.ClassName, l.ConfigNode, input, l.Name, others);
                foreach (var (name, shape, init) in specs)
                {
                    var tensor = Create(init, shape, generator);
                    created.Add(tensor);
                    weights.Add(new KerasWeight(name, tensor, LayerCatalog.IsTrainableVariable(l.ClassName, name), null, null));
                }
            }
            layers.Add(new KerasLayer(l.Entry, l.ClassName, l.Name, l.InboundNodes, weights, nested, l.IsSynthesized));
        }
        return new KerasModel(model.Root, model.ClassName, model.Name, layers, model.Inputs, model.Outputs,
            model.Source with { Format = ModelFormat.InMemory }) { Dialect = model.Dialect };
    }

    /// <summary>
    /// <see cref="Specs"/>, with a config that lacks or mistypes a key (a missing <c>units</c>, a string kernel size)
    /// reported as a <see cref="SurgeonException"/> naming the layer.
    /// </summary>
    internal static List<(string Name, long[] Shape, JsonNode? Init)> CheckedSpecs(string cls, JsonObject c, int?[] input, string layer, IReadOnlyList<int?[]?>? otherInputs = null)
    {
        try
        {
            return Specs(cls, c, input, layer, otherInputs).ToList();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or IndexOutOfRangeException or OverflowException or NullReferenceException or ArgumentException)
        {
            throw new SurgeonException($"Cannot create weights for layer '{layer}' ({cls}): its config is incomplete or malformed ({e.Message})", e);
        }
    }

    /// <summary>Name, shape and initializer config of each variable of a layer, in Keras order.</summary>
    internal static IEnumerable<(string Name, long[] Shape, JsonNode? Init)> Specs(string cls, JsonObject c, int?[] input, string layer, IReadOnlyList<int?[]?>? otherInputs = null)
    {
        long Dim(int? d, string what) => d ?? throw new SurgeonException($"Cannot create weights for layer '{layer}': its {what} is unknown.");
        var useBias = Bool(c, "use_bias", true);
        var channelsFirst = ChannelsFirst(c);
        long inChannels = Dim(channelsFirst && input.Length > 2 ? input[1] : input[^1], "input channel count");
        JsonNode? Init(string key, string dflt) => c[key] ?? JsonValue.Create(dflt);
        switch (cls)
        {
            case "Dense":
                {
                    var units = (long)Int(c, "units")!;
                    yield return ("kernel", new[] { inChannels, units }, Init("kernel_initializer", "GlorotUniform"));
                    if (useBias) yield return ("bias", new[] { units }, Init("bias_initializer", "Zeros"));
                    break;
                }
            case "Conv1D" or "Conv2D" or "Conv3D" or "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                {
                    var rank = cls[4] - '0';
                    var kernel = Ints(c, rank, "kernel_size")!.Select(k => (long)k);
                    var filters = (long)Int(c, "filters")!;
                    var groups = Int(c, "groups") ?? 1;
                    var tail = cls.EndsWith("Transpose", StringComparison.Ordinal) ? new[] { filters, inChannels } : new[] { inChannels / groups, filters };
                    yield return ("kernel", kernel.Concat(tail).ToArray(), Init("kernel_initializer", "GlorotUniform"));
                    if (useBias) yield return ("bias", new[] { filters }, Init("bias_initializer", "Zeros"));
                    break;
                }
            case "DepthwiseConv1D" or "DepthwiseConv2D":
                {
                    var rank = cls[^2] - '0';
                    var multiplier = (long)(Int(c, "depth_multiplier") ?? 1);
                    var kernel = Ints(c, rank, "kernel_size")!.Select(k => (long)k);
                    yield return ("depthwise_kernel", kernel.Concat(new[] { inChannels, multiplier }).ToArray(), Init("depthwise_initializer", "GlorotUniform"));
                    if (useBias) yield return ("bias", new[] { inChannels * multiplier }, Init("bias_initializer", "Zeros"));
                    break;
                }
            case "SeparableConv1D" or "SeparableConv2D":
                {
                    var rank = cls[^2] - '0';
                    var multiplier = (long)(Int(c, "depth_multiplier") ?? 1);
                    var filters = (long)Int(c, "filters")!;
                    var kernel = Ints(c, rank, "kernel_size")!.Select(k => (long)k).ToArray();
                    yield return ("depthwise_kernel", kernel.Concat(new[] { inChannels, multiplier }).ToArray(), Init("depthwise_initializer", "GlorotUniform"));
                    yield return ("pointwise_kernel", Enumerable.Repeat(1L, rank).Concat(new[] { inChannels * multiplier, filters }).ToArray(), Init("pointwise_initializer", "GlorotUniform"));
                    if (useBias) yield return ("bias", new[] { filters }, Init("bias_initializer", "Zeros"));
                    break;
                }
            case "BatchNormalization":
                {
                    var axis = c["axis"] is JsonArray a ? a[0]!.GetValue<int>() : Int(c, "axis") ?? -1;
                    var n = Dim(input[axis < 0 ? input.Length + axis : axis], "normalized axis");
                    if (Bool(c, "scale", true)) yield return ("gamma", new[] { n }, Init("gamma_initializer", "Ones"));
                    if (Bool(c, "center", true)) yield return ("beta", new[] { n }, Init("beta_initializer", "Zeros"));
                    yield return ("moving_mean", new[] { n }, Init("moving_mean_initializer", "Zeros"));
                    yield return ("moving_variance", new[] { n }, Init("moving_variance_initializer", "Ones"));
                    break;
                }
            case "LayerNormalization" or "GroupNormalization":
                {
                    // LayerNormalization: one parameter per element of the normalised axes; GroupNormalization: per channel.
                    var axes = c["axis"] is JsonArray list ? list.Select(a => a!.GetValue<int>()).ToArray() : new[] { Int(c, "axis") ?? -1 };
                    var shape = axes.Select(a => Dim(input[a < 0 ? input.Length + a : a], "normalized axis")).ToArray();
                    if (Bool(c, "scale", true)) yield return ("gamma", shape, Init("gamma_initializer", "Ones"));
                    if (Bool(c, "center", true)) yield return ("beta", shape, Init("beta_initializer", "Zeros"));
                    break;
                }
            case "Embedding":
                yield return ("embeddings", new[] { (long)Int(c, "input_dim")!, (long)Int(c, "output_dim")! }, Init("embeddings_initializer", "RandomUniform"));
                break;
            case "SimpleRNN" or "GRU" or "LSTM":
                {
                    var units = (long)Int(c, "units")!;
                    var gates = cls switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
                    yield return ("kernel", new[] { inChannels, gates * units }, Init("kernel_initializer", "GlorotUniform"));
                    yield return ("recurrent_kernel", new[] { units, gates * units }, Init("recurrent_initializer", "Orthogonal"));
                    if (useBias)
                    {
                        var shape = cls == "GRU" && Bool(c, "reset_after", true) ? new[] { 2, gates * units } : new[] { gates * units };
                        yield return ("bias", shape, Init("bias_initializer", "Zeros"));
                    }
                    break;
                }
            case "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                {
                    // Input (batch, time, ..., channels), or channels_first (batch, time, channels, ...); four gate blocks.
                    var rank = cls[8] - '0';
                    var kernel = Ints(c, rank, "kernel_size")!.Select(k => (long)k).ToArray();
                    var filters = (long)Int(c, "filters")!;
                    var channels = Dim(channelsFirst ? input[2] : input[^1], "input channel count");
                    yield return ("kernel", kernel.Append(channels).Append(4 * filters).ToArray(), Init("kernel_initializer", "GlorotUniform"));
                    yield return ("recurrent_kernel", kernel.Append(filters).Append(4 * filters).ToArray(), Init("recurrent_initializer", "Orthogonal"));
                    if (useBias) yield return ("bias", new[] { 4 * filters }, Init("bias_initializer", "Zeros"));
                    break;
                }
            case "PReLU":
                {
                    var shape = input.Skip(1).Select(d => (long)Dim(d, "shape")).ToArray();
                    foreach (var axis in Ints(c, 0, "shared_axes") ?? Array.Empty<int>()) shape[axis - 1] = 1;
                    yield return ("alpha", shape, Init("alpha_initializer", "Zeros"));
                    break;
                }
            case "Normalization" when c["mean"] is not (JsonArray or JsonValue):
                {
                    var axes = c["axis"] is JsonArray list ? list.Select(a => a!.GetValue<int>()).ToArray() : new[] { Int(c, "axis") ?? -1 };
                    var shape = axes.Select(a => Dim(input[a < 0 ? input.Length + a : a], "normalized axis")).ToArray();
                    yield return ("mean", shape, JsonValue.Create("Zeros"));
                    yield return ("variance", shape, JsonValue.Create("Ones"));
                    yield return ("count", Array.Empty<long>(), JsonValue.Create("Zeros"));
                    break;
                }
            case "Normalization":
                break;
            case "Attention":
                if (Bool(c, "use_scale", false)) yield return ("scale", Array.Empty<long>(), JsonValue.Create("Ones"));
                if (String(c, "score_mode") == "concat") yield return ("concat_score_weight", Array.Empty<long>(), JsonValue.Create("Ones"));
                break;
            case "AdditiveAttention":
                if (Bool(c, "use_scale", true)) yield return ("scale", new[] { inChannels }, JsonValue.Create("GlorotUniform"));
                break;
            case "MultiHeadAttention":
                {
                    var heads = (long)Int(c, "num_heads")!;
                    var keyDim = (long)Int(c, "key_dim")!;
                    var valueDim = (long)(Int(c, "value_dim") ?? (int)keyDim);
                    var valueFeatures = otherInputs is { Count: > 0 } && otherInputs[0] is { } v ? Dim(v[^1], "value feature count") : inChannels;
                    var keyFeatures = otherInputs is { Count: > 1 } && otherInputs[1] is { } k ? Dim(k[^1], "key feature count") : valueFeatures;
                    var outFeatures = c["output_shape"] is JsonArray os ? os.Select(d => (long)d!.GetValue<int>()).ToArray()
                        : c["output_shape"] is JsonValue ov && ov.TryGetValue(out int single) ? new[] { (long)single } : new[] { inChannels };
                    var kernelInit = Init("kernel_initializer", "GlorotUniform");
                    var biasInit = Init("bias_initializer", "Zeros");
                    foreach (var (part, features, dim) in new[] { ("query", inChannels, keyDim), ("key", keyFeatures, keyDim), ("value", valueFeatures, valueDim) })
                    {
                        yield return ($"{part}/kernel", new[] { features, heads, dim }, kernelInit);
                        if (useBias) yield return ($"{part}/bias", new[] { heads, dim }, biasInit);
                    }
                    yield return ("attention_output/kernel", new[] { heads, valueDim }.Concat(outFeatures).ToArray(), kernelInit);
                    if (useBias) yield return ("attention_output/bias", outFeatures, biasInit);
                    break;
                }
            case "Bidirectional":
                {
                    // Keras builds the backward layer as a mirror of the forward one unless one is given.
                    var (forwardClass, forwardConfig) = Wrapped(c, "layer", layer);
                    var (backwardClass, backwardConfig) = c["backward_layer"] is JsonObject ? Wrapped(c, "backward_layer", layer) : (forwardClass, forwardConfig);
                    foreach (var (name, shape, init) in Specs(forwardClass, forwardConfig, input, layer)) yield return ("forward/" + name, shape, init);
                    foreach (var (name, shape, init) in Specs(backwardClass, backwardConfig, input, layer)) yield return ("backward/" + name, shape, init);
                    break;
                }
            case "TimeDistributed":
                {
                    // The wrapped layer sees one time step: the input without its time axis.
                    var (innerClass, innerConfig) = Wrapped(c, "layer", layer);
                    foreach (var spec in Specs(innerClass, innerConfig, input.Where((_, i) => i != 1).ToArray(), layer)) yield return spec;
                    break;
                }
            default:
                if (LayerCatalog.VariableNames(cls, c) is { Length: > 0 })
                    throw new SurgeonException($"Cannot create weights for layer '{layer}': initialising {cls} layers is not supported yet.");
                break;
        }
    }

    private static (string ClassName, JsonObject Config) Wrapped(JsonObject c, string key, string layer) =>
        ConfigValues.Wrapped(c, key) ?? throw new SurgeonException($"Cannot create weights for layer '{layer}': its '{key}' config has no class_name and config.");

    /// <summary>A tensor initialised by a Keras initializer config (a name string or {class_name, config}).</summary>
    internal static Tensor Create(JsonNode? init, long[] shape, Generator generator)
    {
        var name = init.AsString() ?? (init as JsonObject)?["class_name"].AsString() ?? "GlorotUniform";
        var config = (init as JsonObject)?["config"] as JsonObject ?? new JsonObject();
        double Get(string key, double dflt) => config[key] is JsonValue x && x.TryGetValue(out double d) ? d : dflt;
        var (fanIn, fanOut) = Fans(shape);
        switch (Normalize(name))
        {
            case "zeros":
                return zeros(shape);
            case "ones":
                return ones(shape);
            case "constant":
                return full(shape, Get("value", 0));
            case "randomnormal":
                return normal(Get("mean", 0), Get("stddev", 0.05), shape, generator: generator);
            case "randomuniform":
                return rand(shape, generator: generator) * (Get("maxval", 0.05) - Get("minval", -0.05)) + Get("minval", -0.05);
            case "truncatednormal":
                return Truncated(shape, Get("mean", 0), Get("stddev", 0.05), generator);
            case "orthogonal":
                return Orthogonal(shape, Get("gain", 1), generator);
            default:
                {
                    var (scale, mode, distribution) = Normalize(name) switch
                    {
                        "glorotuniform" => (1.0, "fan_avg", "uniform"),
                        "glorotnormal" => (1.0, "fan_avg", "truncated_normal"),
                        "heuniform" => (2.0, "fan_in", "uniform"),
                        "henormal" => (2.0, "fan_in", "truncated_normal"),
                        "lecununiform" => (1.0, "fan_in", "uniform"),
                        "lecunnormal" => (1.0, "fan_in", "truncated_normal"),
                        "variancescaling" => (Get("scale", 1), config["mode"].AsString() ?? "fan_in", config["distribution"].AsString() ?? "truncated_normal"),
                        _ => throw new SurgeonException($"Unknown weight initializer '{name}'."),
                    };
                    var n = mode switch { "fan_in" => fanIn, "fan_out" => fanOut, _ => (fanIn + fanOut) / 2.0 };
                    var variance = scale / Math.Max(1.0, n);
                    if (distribution == "uniform")
                    {
                        var limit = Math.Sqrt(3.0 * variance);
                        return rand(shape, generator: generator) * (2 * limit) - limit;
                    }
                    if (distribution == "untruncated_normal") return normal(0, Math.Sqrt(variance), shape, generator: generator);
                    return Truncated(shape, 0, Math.Sqrt(variance) / 0.87962566103423978, generator);
                }
        }
    }

    private static string Normalize(string name) => name.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    private static (double FanIn, double FanOut) Fans(long[] shape) => shape.Length switch
    {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        2 => (shape[0], shape[1]),
        _ => (shape[^2] * shape[..^2].Aggregate(1L, (a, b) => a * b), shape[^1] * shape[..^2].Aggregate(1L, (a, b) => a * b)),
    };

    /// <summary>
    /// Normal samples truncated to two standard deviations, as Keras's truncated normal (TensorFlow re-draws values
    /// beyond 2 std). Drawn by the inverse CDF: u uniform in [Phi(-2), Phi(2)], x = mean + std * sqrt(2) * erfinv(2u - 1).
    /// (TorchSharp's nn.init.trunc_normal_ fills every element with one value in the version used here.)
    /// </summary>
    private static Tensor Truncated(long[] shape, double mean, double stddev, Generator generator)
    {
        const double Low = 0.022750131948179195;  // Phi(-2)
        const double High = 0.97724986805182079;  // Phi(2)
        using var scope = NewDisposeScope();
        var u = rand(shape, dtype: ScalarType.Float64, generator: generator) * (High - Low) + Low;
        var x = (u * 2 - 1).erfinv_().mul_(Math.Sqrt(2) * stddev).add_(mean).clamp_(mean - 2 * stddev, mean + 2 * stddev);
        return x.to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private static Tensor Orthogonal(long[] shape, double gain, Generator generator)
    {
        // Keras: QR of a normal matrix of (rows = prod(shape[:-1]), cols = shape[-1]), signs fixed by diag(R).
        using var scope = NewDisposeScope();
        if (shape.Length < 2) return normal(0, 1, shape, generator: generator).MoveToOuterDisposeScope();
        var cols = shape[^1];
        var rows = shape[..^1].Aggregate(1L, (a, b) => a * b);
        var flat = normal(0, 1, new[] { Math.Max(rows, cols), Math.Min(rows, cols) }, generator: generator);
        var (q, r) = linalg.qr(flat);
        q = q * sign(diagonal(r));
        if (rows < cols) q = q.t();
        return (q.reshape(shape) * gain).contiguous().MoveToOuterDisposeScope();
    }
}
