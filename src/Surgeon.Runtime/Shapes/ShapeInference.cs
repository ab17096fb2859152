using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;

namespace Surgeon.Shapes;

/// <summary>
/// Computes each layer call's output shapes from the input layers' declared shapes, the way Keras's
/// <c>compute_output_shape</c> does. Shapes include the batch dimension; null entries are unknown dimensions.
/// A layer whose shape cannot be inferred (unknown class, missing input shape) yields null.
/// </summary>
public sealed class ShapeInference
{
    private readonly KerasModel _model;
    private readonly Dictionary<(string, int), IReadOnlyList<int?[]>?> _memo = new();
    private readonly HashSet<(string, int)> _inProgress = new();
    private readonly IReadOnlyList<int?[]?>? _inputOverride;

    private ShapeInference(KerasModel model, IReadOnlyList<int?[]?>? inputs)
    {
        _model = model;
        _inputOverride = inputs;
    }

    /// <summary>Shape inference over <paramref name="model"/>.</summary>
    public static ShapeInference For(KerasModel model) => new(model, null);

    /// <summary>Output shapes of call <paramref name="nodeIndex"/> of <paramref name="layerName"/>, or null if unknown.</summary>
    public IReadOnlyList<int?[]>? OutputShapes(string layerName, int nodeIndex = 0)
    {
        var key = (layerName, nodeIndex);
        if (_memo.TryGetValue(key, out var known)) return known;
        if (!_inProgress.Add(key)) return null; // a cycle: the config is inconsistent
        var layer = _model.FindLayer(layerName);
        IReadOnlyList<int?[]>? result = null;
        if (layer is not null)
        {
            if (layer.ClassName == "InputLayer")
            {
                var i = _model.Inputs.Select(t => t.Layer).ToList().IndexOf(layerName);
                var shape = _inputOverride is not null && i >= 0 && i < _inputOverride.Count ? _inputOverride[i] : InputShape(layer.ConfigNode);
                result = shape is null ? null : new[] { shape };
            }
            else if (nodeIndex < layer.InboundNodes.Count)
            {
                var inputs = new List<int?[]>();
                foreach (var t in layer.InboundNodes[nodeIndex].Inputs)
                {
                    var s = OutputShapes(t.Layer, t.NodeIndex);
                    if (s is null || t.TensorIndex >= s.Count) { inputs = null; break; }
                    inputs.Add(s[t.TensorIndex]);
                }
                if (inputs is not null)
                {
                    try
                    {
                        result = layer.NestedModel is { } nested ? NestedOutputs(nested, inputs) : Compute(layer.ClassName, layer.ConfigNode, inputs);
                    }
                    catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or FormatException)
                    {
                        result = null;
                    }
                }
            }
        }
        _inProgress.Remove(key);
        _memo[key] = result;
        return result;
    }

    /// <summary>The model's output shapes, in order (null entries where unknown).</summary>
    public IReadOnlyList<int?[]?> ModelOutputShapes() =>
        _model.Outputs.Select(t => OutputShapes(t.Layer, t.NodeIndex) is { } s && t.TensorIndex < s.Count ? s[t.TensorIndex] : null).ToList();

    private static IReadOnlyList<int?[]>? NestedOutputs(KerasModel nested, List<int?[]> inputs)
    {
        var inner = new ShapeInference(nested, inputs);
        var outs = inner.ModelOutputShapes();
        return outs.Any(o => o is null) ? null : outs.Select(o => o!).ToList();
    }

    internal static int?[]? InputShape(JsonObject c)
    {
        var s = Shape(c["batch_input_shape"]) ?? Shape(c["batch_shape"]);
        if (s is not null) return s;
        if (Shape(c["input_shape"]) is { } inputShape) return new int?[] { null }.Concat(inputShape).ToArray();
        return null;
    }

    /// <summary>Output shapes of one call of a layer of <paramref name="cls"/> given its input shapes.</summary>
    internal static IReadOnlyList<int?[]>? Compute(string cls, JsonObject c, IReadOnlyList<int?[]> inputs)
    {
        var x = inputs.Count > 0 ? inputs[0] : null;
        int?[][] One(int?[]? s) => s is null ? null! : new[] { s };
        switch (cls)
        {
            case "Dense" or "TimeDistributedDense":
                return One(Replace(x!, -1, Int(c, "units", "output_dim")));
            case "Conv1D" or "Conv2D" or "Conv3D" or "Convolution1D" or "Convolution2D" or "Convolution3D"
                or "DepthwiseConv1D" or "DepthwiseConv2D" or "SeparableConv1D" or "SeparableConv2D":
                {
                    var rank = x!.Length - 2;
                    var cf = ChannelsFirst(c);
                    var kernel = Ints(c, rank, "kernel_size") ?? Keras1Kernel(c, rank);
                    var strides = Ints(c, rank, "strides", "subsample", "subsample_length") ?? Ones(rank);
                    var dilation = Ints(c, rank, "dilation_rate", "atrous_rate") ?? Ones(rank);
                    var padding = String(c, "padding", "border_mode") ?? "valid";
                    int? channels = cls.StartsWith("Depthwise", StringComparison.Ordinal)
                        ? Channels(x, cf) * (Int(c, "depth_multiplier") ?? 1)
                        : Int(c, "filters", "nb_filter");
                    return One(Spatial(x, cf, channels, i => ConvLength(x[SpatialAxis(i, cf)], kernel[i], padding, strides[i], dilation[i])));
                }
            case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose" or "Deconvolution2D":
                {
                    var rank = x!.Length - 2;
                    var cf = ChannelsFirst(c);
                    var kernel = Ints(c, rank, "kernel_size")!;
                    var strides = Ints(c, rank, "strides") ?? Ones(rank);
                    var dilation = Ints(c, rank, "dilation_rate") ?? Ones(rank);
                    var outPad = Ints(c, rank, "output_padding");
                    var padding = String(c, "padding") ?? "valid";
                    return One(Spatial(x, cf, Int(c, "filters"), i => DeconvLength(x[SpatialAxis(i, cf)], kernel[i], padding, outPad?[i], strides[i], dilation[i])));
                }
            case "MaxPooling1D" or "MaxPooling2D" or "MaxPooling3D" or "AveragePooling1D" or "AveragePooling2D" or "AveragePooling3D"
                or "MaxPool1D" or "MaxPool2D" or "MaxPool3D" or "AvgPool1D" or "AvgPool2D" or "AvgPool3D":
                {
                    var rank = x!.Length - 2;
                    var cf = ChannelsFirst(c);
                    var pool = Ints(c, rank, "pool_size", "pool_length") ?? Enumerable.Repeat(2, rank).ToArray();
                    var strides = Ints(c, rank, "strides", "stride") ?? pool;
                    var padding = String(c, "padding", "border_mode") ?? "valid";
                    return One(Spatial(x, cf, Channels(x, cf), i => ConvLength(x[SpatialAxis(i, cf)], pool[i], padding, strides[i], 1)));
                }
            case "GlobalMaxPooling1D" or "GlobalMaxPooling2D" or "GlobalMaxPooling3D" or "GlobalAveragePooling1D"
                or "GlobalAveragePooling2D" or "GlobalAveragePooling3D" or "GlobalMaxPool1D" or "GlobalMaxPool2D" or "GlobalMaxPool3D"
                or "GlobalAvgPool1D" or "GlobalAvgPool2D" or "GlobalAvgPool3D":
                {
                    var cf = ChannelsFirst(c);
                    if (Bool(c, "keepdims", false))
                        return One(Spatial(x!, cf, Channels(x!, cf), _ => 1));
                    return One(new[] { x![0], Channels(x, cf) });
                }
            case "Flatten":
                return One(new[] { x![0], Product(x.Skip(1)) });
            case "Reshape":
                {
                    var target = Shape(c["target_shape"])!;
                    var known = Product(x!.Skip(1));
                    var fixedPart = Product(target.Where(d => d != -1));
                    var result = target.Select(d => d == -1 ? (known.HasValue && fixedPart is > 0 ? known / fixedPart : null) : d).ToArray();
                    return One(new[] { x![0] }.Concat(result).ToArray());
                }
            case "Permute":
                {
                    var dims = Ints(c, 0, "dims")!;
                    return One(new[] { x![0] }.Concat(dims.Select(d => x[d])).ToArray());
                }
            case "RepeatVector":
                return One(new[] { x![0], Int(c, "n"), x[1] });
            case "ZeroPadding1D" or "ZeroPadding2D" or "ZeroPadding3D" or "Cropping1D" or "Cropping2D" or "Cropping3D":
                {
                    var rank = x!.Length - 2;
                    var cf = ChannelsFirst(c);
                    var key = cls.StartsWith("Zero", StringComparison.Ordinal) ? "padding" : "cropping";
                    var sign = key == "padding" ? 1 : -1;
                    var pairs = Pairs(c[key], rank);
                    return One(Spatial(x, cf, Channels(x, cf), i => x[SpatialAxis(i, cf)] + sign * (pairs[i].Item1 + pairs[i].Item2)));
                }
            case "UpSampling1D" or "UpSampling2D" or "UpSampling3D":
                {
                    var rank = x!.Length - 2;
                    var cf = ChannelsFirst(c);
                    var size = Ints(c, rank, "size", "length") ?? Enumerable.Repeat(2, rank).ToArray();
                    return One(Spatial(x, cf, Channels(x, cf), i => x[SpatialAxis(i, cf)] * size[i]));
                }
            case "BatchNormalization" or "LayerNormalization" or "GroupNormalization" or "UnitNormalization" or "Dropout"
                or "SpatialDropout1D" or "SpatialDropout2D" or "SpatialDropout3D" or "GaussianNoise" or "GaussianDropout"
                or "AlphaDropout" or "ActivityRegularization" or "Activation" or "ReLU" or "LeakyReLU" or "PReLU" or "ELU"
                or "ThresholdedReLU" or "Softmax" or "Masking" or "Rescaling" or "Normalization":
                return One(x);
            case "Add" or "Subtract" or "Multiply" or "Average" or "Maximum" or "Minimum":
                return One(Broadcast(inputs));
            case "Concatenate":
                {
                    var axis = Int(c, "axis") ?? -1;
                    var a = axis < 0 ? x!.Length + axis : axis;
                    var r = (int?[])x!.Clone();
                    r[a] = inputs.Select(s => s[a]).Aggregate((int?)0, (p, q) => p + q);
                    return One(r);
                }
            case "Dot":
                {
                    var y = inputs[1];
                    var axes = Ints(c, 2, "axes")!.Select((ax, i) => ax < 0 ? inputs[i].Length + ax : ax).ToArray();
                    var left = x!.Where((_, i) => i != axes[0]).ToList();
                    var right = y.Where((_, i) => i != axes[1]).Skip(1).ToList();
                    var r = left.Concat(right).ToArray();
                    return One(r.Length == 1 ? new[] { r[0], (int?)1 } : r);
                }
            case "Embedding":
                return One(x!.Append(Int(c, "output_dim")).ToArray());
            case "SimpleRNN" or "GRU" or "LSTM":
                return Recurrent(cls, c, x!, Int(c, "units", "output_dim"), states: cls == "LSTM" ? 2 : 1, stepShape: null);
            case "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                {
                    var rank = x!.Length - 3;
                    var cf = ChannelsFirst(c);
                    var step = x.Where((_, i) => i != 1).ToArray();
                    var kernel = Ints(c, rank, "kernel_size")!;
                    var strides = Ints(c, rank, "strides") ?? Ones(rank);
                    var dilation = Ints(c, rank, "dilation_rate") ?? Ones(rank);
                    var padding = String(c, "padding") ?? "valid";
                    var stepOut = Spatial(step, cf, Int(c, "filters"), i => ConvLength(step[SpatialAxis(i, cf)], kernel[i], padding, strides[i], dilation[i]));
                    return Recurrent(cls, c, x, null, states: 2, stepShape: stepOut);
                }
            case "Bidirectional":
                {
                    var inner = c["layer"] as JsonObject;
                    var innerCls = inner?["class_name"].AsString();
                    if (inner?["config"] is not JsonObject ic || innerCls is null) return null;
                    var fwd = Compute(innerCls, ic, inputs);
                    if (fwd is null) return null;
                    var mode = c["merge_mode"] is JsonValue mv && mv.TryGetValue(out string? m) ? m : (c.ContainsKey("merge_mode") ? null : "concat");
                    var output = fwd[0];
                    var states = fwd.Skip(1).ToList();
                    var outputs = new List<int?[]>();
                    if (mode is null) { outputs.Add(output); outputs.Add(output); }
                    else if (mode == "concat") outputs.Add(Replace(output, -1, output[^1] * 2));
                    else outputs.Add(output);
                    outputs.AddRange(states);
                    outputs.AddRange(states);
                    return outputs;
                }
            case "TimeDistributed":
                {
                    var inner = c["layer"] as JsonObject;
                    var innerCls = inner?["class_name"].AsString();
                    if (inner?["config"] is not JsonObject ic || innerCls is null) return null;
                    var step = new[] { x![0] }.Concat(x.Skip(2)).ToArray();
                    var r = Compute(innerCls, ic, new[] { step });
                    if (r is null) return null;
                    return r.Select(s => new[] { s[0], x[1] }.Concat(s.Skip(1)).ToArray()).ToList();
                }
            case "Attention" or "AdditiveAttention":
                {
                    var value = inputs.Count > 1 ? inputs[1] : x!;
                    var output = Replace(x!, -1, value[^1]);
                    return Bool(c, "return_attention_scores", false)
                        ? new[] { output, new[] { x![0], x[1], value[1] } }
                        : One(output);
                }
            case "MultiHeadAttention":
                {
                    var outShape = Shape(c["output_shape"]);
                    var output = outShape is null ? x! : x!.Take(x!.Length - 1).Concat(outShape).ToArray();
                    return One(output);
                }
            default:
                return null;
        }
    }

    private static IReadOnlyList<int?[]> Recurrent(string cls, JsonObject c, int?[] x, int? units, int states, int?[]? stepShape)
    {
        var step = stepShape ?? new[] { x[0], units };
        var output = Bool(c, "return_sequences", false) ? new[] { step[0], x[1] }.Concat(step.Skip(1)).ToArray() : step;
        var result = new List<int?[]> { output };
        if (Bool(c, "return_state", false))
        {
            for (var i = 0; i < states; i++) result.Add(step);
        }
        return result;
    }

    private static int[] Keras1Kernel(JsonObject c, int rank) => rank switch
    {
        1 => new[] { Int(c, "filter_length") ?? 1 },
        2 => new[] { Int(c, "nb_row") ?? 1, Int(c, "nb_col") ?? 1 },
        _ => new[] { Int(c, "kernel_dim1") ?? 1, Int(c, "kernel_dim2") ?? 1, Int(c, "kernel_dim3") ?? 1 },
    };

    private static int[] Ones(int n) => Enumerable.Repeat(1, n).ToArray();

    private static int?[] Replace(int?[] s, int axis, int? value)
    {
        var r = (int?[])s.Clone();
        r[axis < 0 ? r.Length + axis : axis] = value;
        return r;
    }

    private static int? Channels(int?[] s, bool channelsFirst) => channelsFirst ? s[1] : s[^1];

    private static int SpatialAxis(int i, bool channelsFirst) => channelsFirst ? i + 2 : i + 1;

    private static int?[] Spatial(int?[] x, bool channelsFirst, int? channels, Func<int, int?> dim)
    {
        var rank = x.Length - 2;
        var spatial = Enumerable.Range(0, rank).Select(dim);
        return channelsFirst
            ? new[] { x[0], channels }.Concat(spatial).ToArray()
            : new[] { x[0] }.Concat(spatial).Append(channels).ToArray();
    }

    private static int? Product(IEnumerable<int?> dims)
    {
        int? p = 1;
        foreach (var d in dims) p = d is null || p is null ? null : p * d;
        return p;
    }

    private static int?[] Broadcast(IReadOnlyList<int?[]> shapes)
    {
        var rank = shapes.Max(s => s.Length);
        var r = new int?[rank];
        for (var i = 1; i <= rank; i++)
        {
            int? d = 1;
            foreach (var s in shapes)
            {
                if (s.Length < i) continue;
                var v = s[^i];
                if (v is null) { if (d == 1) d = null; }
                else if (v != 1) d = v;
            }
            r[^i] = d;
        }
        return r;
    }

    /// <summary>
    /// Keras padding/cropping amounts per spatial axis: an int (all sides), for 1D a pair (left, right), for 2D/3D
    /// one int per axis (both sides) or one pair per axis.
    /// </summary>
    internal static (int Before, int After)[] Pairs(JsonNode? n, int rank)
    {
        switch (n)
        {
            case JsonValue v when v.TryGetValue(out int all):
                return Enumerable.Repeat((all, all), rank).ToArray();
            case JsonArray a when rank == 1 && a.Count == 2 && a.All(i => i is JsonValue):
                return new[] { (a[0]!.GetValue<int>(), a[1]!.GetValue<int>()) };
            case JsonArray a when a.Count == rank:
                return a.Select(item => item is JsonArray p ? (p[0]!.GetValue<int>(), p[1]!.GetValue<int>()) : (item!.GetValue<int>(), item!.GetValue<int>())).ToArray();
            default:
                throw new InvalidOperationException($"cannot read padding/cropping {n?.ToJsonString()} for {rank} spatial axes");
        }
    }

    /// <summary>Keras <c>conv_output_length</c>.</summary>
    internal static int? ConvLength(int? input, int kernel, string padding, int stride, int dilation)
    {
        if (input is null) return null;
        var k = kernel + (kernel - 1) * (dilation - 1);
        var length = padding switch
        {
            "same" or "causal" => input.Value,
            "valid" => input.Value - k + 1,
            "full" => input.Value + k - 1,
            _ => throw new InvalidOperationException($"unknown padding '{padding}'"),
        };
        return (length + stride - 1) / stride;
    }

    /// <summary>Keras <c>deconv_output_length</c>.</summary>
    internal static int? DeconvLength(int? input, int kernel, string padding, int? outputPadding, int stride, int dilation)
    {
        if (input is null) return null;
        var k = kernel + (kernel - 1) * (dilation - 1);
        if (outputPadding is null)
        {
            return padding switch
            {
                "valid" => input * stride + Math.Max(k - stride, 0),
                "full" => input * stride - (stride + k - 2),
                "same" => input * stride,
                _ => throw new InvalidOperationException($"unknown padding '{padding}'"),
            };
        }
        var pad = padding switch { "same" => k / 2, "valid" => 0, "full" => k - 1, _ => 0 };
        return (input - 1) * stride + k - 2 * pad + outputPadding;
    }
}
