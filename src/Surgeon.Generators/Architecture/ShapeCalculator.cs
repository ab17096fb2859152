using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Surgeon.Generators.Json;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Architecture;

/// <summary>
/// Output shapes and parameter counts computed from the architecture alone, as Keras's <c>compute_output_shape</c>
/// and <c>count_params</c> would give them: from the input layers' declared shapes (<c>batch_input_shape</c>,
/// <c>batch_shape</c>, <c>input_shape</c>, or a layer's Keras 3 <c>build_config</c>) through each layer's config. Shapes
/// include the batch dimension (null where unknown). Anything not computable is null ("unknown" in the docs).
/// </summary>
internal sealed class ShapeCalculator
{
    private static readonly HashSet<string> s_weightless = new(StringComparer.Ordinal)
    {
        "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
        "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Activation", "ReLU",
        "LeakyReLU", "ELU", "ThresholdedReLU", "Softmax", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
        "Concatenate", "Dot", "Masking", "Rescaling", "UnitNormalization", "Merge",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
        "GlobalAveragePooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D",
        "GlobalAvgPool3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D",
    };

    private readonly GraphModel _model;
    private readonly IReadOnlyList<int?[]?>? _inputOverride;
    private readonly Dictionary<(string, int), List<int?[]>?> _memo = new();
    private readonly HashSet<(string, int)> _inProgress = new();

    public ShapeCalculator(GraphModel model, IReadOnlyList<int?[]?>? inputOverride)
    {
        _model = model;
        _inputOverride = inputOverride;
    }

    /// <summary>Keras's way of printing a shape: <c>(None, 28, 28, 1)</c>, <c>(None,)</c>.</summary>
    public static string Format(int?[] shape) =>
        "(" + string.Join(", ", shape.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "None")) + (shape.Length == 1 ? ",)" : ")");

    /// <summary>Output shapes of call <paramref name="call"/> of <paramref name="layerName"/>, or null.</summary>
    public List<int?[]>? OutputShapes(string layerName, int call)
    {
        var key = (layerName, call);
        if (_memo.TryGetValue(key, out var known)) return known;
        if (!_inProgress.Add(key)) return null;
        List<int?[]>? result = null;
        var layer = _model.Find(layerName);
        if (layer is not null)
        {
            if (layer.ClassName == "InputLayer")
            {
                var index = _model.Inputs.FindIndex(t => t.Layer == layerName);
                var shape = _inputOverride is not null && index >= 0 && index < _inputOverride.Count ? _inputOverride[index] : InputShape(layer.Config);
                result = shape is null ? null : new List<int?[]> { shape };
            }
            else if (call < layer.Calls.Count)
            {
                var inputs = InputShapes(layer, call);
                if (inputs is not null) result = Guarded(() => layer.Nested is { } nested ? NestedOutputs(nested, inputs) : Compute(layer.ClassName, layer.Config, inputs));
            }
        }
        _inProgress.Remove(key);
        _memo[key] = result;
        return result;
    }

    /// <summary>The layer's number of scalar weights, or null when it cannot be computed from the architecture.</summary>
    public long? ParameterCount(GraphLayer layer)
    {
        if (s_weightless.Contains(layer.ClassName)) return 0;
        if (layer.Nested is { } nested)
        {
            var inner = new ShapeCalculator(nested, layer.Calls.Count > 0 ? InputShapes(layer, 0)?.Cast<int?[]?>().ToList() : null);
            long total = 0;
            foreach (var l in nested.Layers)
            {
                if (inner.ParameterCount(l) is not { } p) return null;
                total += p;
            }
            return total;
        }
        if (layer.Calls.Count == 0) return null;
        var inputs = InputShapes(layer, 0);
        if (inputs is null || inputs.Count == 0) return null;
        return Guarded(() => Parameters(layer.ClassName, layer.Config, inputs[0]));
    }

    private List<int?[]>? InputShapes(GraphLayer layer, int call)
    {
        var inputs = new List<int?[]>();
        foreach (var t in layer.Calls[call])
        {
            var s = OutputShapes(t.Layer, t.Node);
            if (s is null || t.Tensor >= s.Count) return null;
            inputs.Add(s[t.Tensor]);
        }
        return inputs;
    }

    private static T? Guarded<T>(Func<T?> compute) where T : class
    {
        try
        {
            return compute();
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or NullReferenceException or OverflowException)
        {
            return null;
        }
    }

    private static long? Guarded(Func<long?> compute)
    {
        try
        {
            return compute();
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException or NullReferenceException or OverflowException)
        {
            return null;
        }
    }

    private static List<int?[]>? NestedOutputs(GraphModel nested, List<int?[]> inputs)
    {
        var inner = new ShapeCalculator(nested, inputs.Cast<int?[]?>().ToList());
        var result = new List<int?[]>();
        foreach (var t in nested.Outputs)
        {
            var s = inner.OutputShapes(t.Layer, t.Node);
            if (s is null || t.Tensor >= s.Count) return null;
            result.Add(s[t.Tensor]);
        }
        return result;
    }

    private static int?[]? InputShape(JsonObject c) =>
        Shape(c["batch_input_shape"]) ?? Shape(c["batch_shape"])
        ?? (Shape(c["input_shape"]) is { } s ? new int?[] { null }.Concat(s).ToArray() : null);

    private static int?[]? Shape(JsonNode? n) =>
        n is JsonArray a ? a.Items.Select(x => x.AsInt()).ToArray() : null;

    private static int[]? Ints(JsonObject c, int rank, params string[] keys)
    {
        foreach (var k in keys)
        {
            switch (c[k])
            {
                case JsonArray a when a.Items.All(x => x.AsInt() is not null):
                    return a.Items.Select(x => x.AsInt()!.Value).ToArray();
                case JsonNode v when v.AsInt() is { } i:
                    return Enumerable.Repeat(i, rank).ToArray();
            }
        }
        return null;
    }

    private static string? Str(JsonObject c, params string[] keys)
    {
        foreach (var k in keys)
        {
            if (c.String(k) is { } s) return s;
        }
        return null;
    }

    private static bool ChannelsFirst(JsonObject c) => c.String("data_format") == "channels_first" || c.String("dim_ordering") == "th";

    private static int? Channels(int?[] s, bool cf) => cf ? s[1] : s[s.Length - 1];

    private static int SpatialAxis(int i, bool cf) => cf ? i + 2 : i + 1;

    private static int?[] Spatial(int?[] x, bool cf, int? channels, Func<int, int?> dim)
    {
        var spatial = Enumerable.Range(0, x.Length - 2).Select(dim).ToArray();
        return cf
            ? new[] { x[0], channels }.Concat(spatial).ToArray()
            : new[] { x[0] }.Concat(spatial).Concat(new[] { channels }).ToArray();
    }

    private static int?[] WithLast(int?[] s, int? value)
    {
        var r = (int?[])s.Clone();
        r[r.Length - 1] = value;
        return r;
    }

    private static int? Product(IEnumerable<int?> dims)
    {
        int? p = 1;
        foreach (var d in dims) p = d is null || p is null ? null : p * d;
        return p;
    }

    private static int[] Keras1Kernel(JsonObject c, int rank) => rank switch
    {
        1 => new[] { c.Int("filter_length") ?? 1 },
        2 => new[] { c.Int("nb_row") ?? 1, c.Int("nb_col") ?? 1 },
        _ => new[] { c.Int("kernel_dim1") ?? 1, c.Int("kernel_dim2") ?? 1, c.Int("kernel_dim3") ?? 1 },
    };

    /// <summary>Keras's <c>conv_output_length</c>.</summary>
    private static int? ConvLength(int? input, int kernel, string padding, int stride, int dilation)
    {
        if (input is null) return null;
        var k = kernel + (kernel - 1) * (dilation - 1);
        int length = padding switch
        {
            "same" or "causal" => input.Value,
            "valid" => input.Value - k + 1,
            "full" => input.Value + k - 1,
            _ => throw new InvalidOperationException("unknown padding"),
        };
        return (length + stride - 1) / stride;
    }

    /// <summary>Keras's <c>deconv_output_length</c>.</summary>
    private static int? DeconvLength(int? input, int kernel, string padding, int? outputPadding, int stride, int dilation)
    {
        if (input is null) return null;
        var k = kernel + (kernel - 1) * (dilation - 1);
        if (outputPadding is { } op)
        {
            var pad = padding switch { "same" => k / 2, "full" => k - 1, _ => 0 };
            return (input.Value - 1) * stride + k - 2 * pad + op;
        }
        return padding switch
        {
            "valid" => input.Value * stride + Math.Max(k - stride, 0),
            "full" => input.Value * stride - (stride + k - 2),
            "same" => input.Value * stride,
            _ => throw new InvalidOperationException("unknown padding"),
        };
    }

    /// <summary>Padding or cropping per spatial axis: an int, a pair (1D), one int per axis, or one pair per axis.</summary>
    private static (int Before, int After)[] Pairs(JsonNode? n, int rank)
    {
        if (n?.AsInt() is { } all) return Enumerable.Repeat((all, all), rank).ToArray();
        if (n is JsonArray a)
        {
            if (rank == 1 && a.Count == 2 && a[0].AsInt() is { } l && a[1].AsInt() is { } r) return new[] { (l, r) };
            if (a.Count == rank)
            {
                return a.Items.Select(item => item is JsonArray p
                    ? (p[0].AsInt() ?? throw new InvalidOperationException(), p[1].AsInt() ?? throw new InvalidOperationException())
                    : (item.AsInt() ?? throw new InvalidOperationException(), item.AsInt()!.Value)).ToArray();
            }
        }
        throw new InvalidOperationException("unreadable padding or cropping");
    }

    private static List<int?[]>? One(int?[]? shape) => shape is null ? null : new List<int?[]> { shape };

    /// <summary>Output shapes of one call of a layer of class <paramref name="cls"/> on <paramref name="inputs"/>.</summary>
    private static List<int?[]>? Compute(string cls, JsonObject c, List<int?[]> inputs)
    {
        if (inputs.Count == 0) return null;
        var x = inputs[0];
        switch (cls)
        {
            case "Dense" or "TimeDistributedDense":
                return One(WithLast(x, c.Int("units", "output_dim")));
            case "Conv1D" or "Conv2D" or "Conv3D" or "Convolution1D" or "Convolution2D" or "Convolution3D"
                or "DepthwiseConv1D" or "DepthwiseConv2D" or "SeparableConv1D" or "SeparableConv2D":
                {
                    var rank = x.Length - 2;
                    var cf = ChannelsFirst(c);
                    var kernel = Ints(c, rank, "kernel_size") ?? Keras1Kernel(c, rank);
                    var strides = Ints(c, rank, "strides", "subsample", "subsample_length") ?? Ones(rank);
                    var dilation = Ints(c, rank, "dilation_rate", "atrous_rate") ?? Ones(rank);
                    var padding = Str(c, "padding", "border_mode") ?? "valid";
                    int? channels = cls.StartsWith("Depthwise", StringComparison.Ordinal)
                        ? Channels(x, cf) * (c.Int("depth_multiplier") ?? 1)
                        : c.Int("filters", "nb_filter");
                    return One(Spatial(x, cf, channels, i => ConvLength(x[SpatialAxis(i, cf)], kernel[i], padding, strides[i], dilation[i])));
                }
            case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose" or "Deconvolution2D":
                {
                    var rank = x.Length - 2;
                    var cf = ChannelsFirst(c);
                    var kernel = Ints(c, rank, "kernel_size") ?? throw new InvalidOperationException();
                    var strides = Ints(c, rank, "strides") ?? Ones(rank);
                    var dilation = Ints(c, rank, "dilation_rate") ?? Ones(rank);
                    var outputPadding = Ints(c, rank, "output_padding");
                    var padding = Str(c, "padding") ?? "valid";
                    return One(Spatial(x, cf, c.Int("filters"), i => DeconvLength(x[SpatialAxis(i, cf)], kernel[i], padding, outputPadding?[i], strides[i], dilation[i])));
                }
            case "MaxPooling1D" or "MaxPooling2D" or "MaxPooling3D" or "AveragePooling1D" or "AveragePooling2D" or "AveragePooling3D"
                or "MaxPool1D" or "MaxPool2D" or "MaxPool3D" or "AvgPool1D" or "AvgPool2D" or "AvgPool3D":
                {
                    var rank = x.Length - 2;
                    var cf = ChannelsFirst(c);
                    var pool = Ints(c, rank, "pool_size", "pool_length") ?? Enumerable.Repeat(2, rank).ToArray();
                    var strides = Ints(c, rank, "strides", "stride") ?? pool;
                    var padding = Str(c, "padding", "border_mode") ?? "valid";
                    return One(Spatial(x, cf, Channels(x, cf), i => ConvLength(x[SpatialAxis(i, cf)], pool[i], padding, strides[i], 1)));
                }
            case "GlobalMaxPooling1D" or "GlobalMaxPooling2D" or "GlobalMaxPooling3D" or "GlobalAveragePooling1D" or "GlobalAveragePooling2D"
                or "GlobalAveragePooling3D" or "GlobalMaxPool1D" or "GlobalMaxPool2D" or "GlobalMaxPool3D" or "GlobalAvgPool1D"
                or "GlobalAvgPool2D" or "GlobalAvgPool3D":
                {
                    var cf = ChannelsFirst(c);
                    return c.Bool("keepdims", false)
                        ? One(Spatial(x, cf, Channels(x, cf), _ => 1))
                        : One(new[] { x[0], Channels(x, cf) });
                }
            case "Flatten":
                return One(new[] { x[0], Product(x.Skip(1)) });
            case "Reshape":
                {
                    var target = Shape(c["target_shape"]) ?? throw new InvalidOperationException();
                    var known = Product(x.Skip(1));
                    var fixedPart = Product(target.Where(d => d != -1));
                    var dims = target.Select(d => d == -1 ? (known.HasValue && fixedPart > 0 ? known / fixedPart : null) : d);
                    return One(new[] { x[0] }.Concat(dims).ToArray());
                }
            case "Permute":
                {
                    var dims = Ints(c, 0, "dims") ?? throw new InvalidOperationException();
                    return One(new[] { x[0] }.Concat(dims.Select(d => x[d])).ToArray());
                }
            case "RepeatVector":
                return One(new[] { x[0], c.Int("n"), x[1] });
            case "ZeroPadding1D" or "ZeroPadding2D" or "ZeroPadding3D" or "Cropping1D" or "Cropping2D" or "Cropping3D":
                {
                    var rank = x.Length - 2;
                    var cf = ChannelsFirst(c);
                    var padding = cls.StartsWith("Zero", StringComparison.Ordinal);
                    var pairs = Pairs(c[padding ? "padding" : "cropping"], rank);
                    var sign = padding ? 1 : -1;
                    return One(Spatial(x, cf, Channels(x, cf), i => x[SpatialAxis(i, cf)] + sign * (pairs[i].Before + pairs[i].After)));
                }
            case "UpSampling1D" or "UpSampling2D" or "UpSampling3D":
                {
                    var rank = x.Length - 2;
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
                    var axis = c.Int("axis") ?? -1;
                    var a = axis < 0 ? x.Length + axis : axis;
                    var r = (int?[])x.Clone();
                    int? sum = 0;
                    foreach (var s in inputs) sum = sum is null || s[a] is null ? null : sum + s[a];
                    r[a] = sum;
                    return One(r);
                }
            case "Dot":
                {
                    var y = inputs[1];
                    var axes = (Ints(c, 2, "axes") ?? throw new InvalidOperationException()).Select((a, i) => a < 0 ? inputs[i].Length + a : a).ToArray();
                    var left = x.Where((_, i) => i != axes[0]);
                    var right = y.Where((_, i) => i != axes[1]).Skip(1);
                    var r = left.Concat(right).ToArray();
                    return One(r.Length == 1 ? new[] { r[0], 1 } : r);
                }
            case "Attention" or "AdditiveAttention":
                {
                    var value = inputs.Count > 1 ? inputs[1] : x;
                    var output = WithLast(x, value[value.Length - 1]);
                    return c.Bool("return_attention_scores", false)
                        ? new List<int?[]> { output, new[] { x[0], x[1], value[1] } }
                        : One(output);
                }
            case "MultiHeadAttention":
                return One(Shape(c["output_shape"]) is { } outputShape ? x.Take(x.Length - 1).Concat(outputShape).ToArray() : x);
            case "Embedding":
                return One(x.Concat(new[] { c.Int("output_dim") }).ToArray());
            case "SimpleRNN" or "GRU" or "LSTM":
                return Recurrent(c, x, new[] { x[0], c.Int("units", "output_dim") }, cls == "LSTM" ? 2 : 1);
            case "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                {
                    var rank = x.Length - 3;
                    var cf = ChannelsFirst(c);
                    var step = x.Where((_, i) => i != 1).ToArray();
                    var kernel = Ints(c, rank, "kernel_size") ?? throw new InvalidOperationException();
                    var strides = Ints(c, rank, "strides") ?? Ones(rank);
                    var dilation = Ints(c, rank, "dilation_rate") ?? Ones(rank);
                    var padding = Str(c, "padding") ?? "valid";
                    var stepOut = Spatial(step, cf, c.Int("filters"), i => ConvLength(step[SpatialAxis(i, cf)], kernel[i], padding, strides[i], dilation[i]));
                    return Recurrent(c, x, stepOut, 2);
                }
            case "Bidirectional":
                {
                    if (c["layer"] is not JsonObject inner || inner.String("class_name") is not { } innerClass || inner["config"] is not JsonObject innerConfig)
                        return null;
                    var forward = Compute(innerClass, innerConfig, inputs);
                    if (forward is null) return null;
                    var mode = c.ContainsKey("merge_mode") ? c.String("merge_mode") : "concat";
                    var output = forward[0];
                    var states = forward.Skip(1).ToList();
                    var outputs = new List<int?[]>();
                    if (mode is null)
                    {
                        outputs.Add(output);
                        outputs.Add(output);
                    }
                    else
                    {
                        outputs.Add(mode == "concat" ? WithLast(output, output[output.Length - 1] * 2) : output);
                    }
                    outputs.AddRange(states);
                    outputs.AddRange(states);
                    return outputs;
                }
            case "TimeDistributed":
                {
                    if (c["layer"] is not JsonObject inner || inner.String("class_name") is not { } innerClass || inner["config"] is not JsonObject innerConfig)
                        return null;
                    var step = new[] { x[0] }.Concat(x.Skip(2)).ToArray();
                    var r = Compute(innerClass, innerConfig, new List<int?[]> { step });
                    return r?.Select(s => new[] { s[0], x[1] }.Concat(s.Skip(1)).ToArray()).ToList();
                }
            default:
                return null;
        }
    }

    private static List<int?[]> Recurrent(JsonObject c, int?[] x, int?[] step, int states)
    {
        var output = c.Bool("return_sequences", false) ? new[] { step[0], x[1] }.Concat(step.Skip(1)).ToArray() : step;
        var result = new List<int?[]> { output };
        if (c.Bool("return_state", false))
        {
            for (var i = 0; i < states; i++) result.Add(step);
        }
        return result;
    }

    private static int[] Ones(int n) => Enumerable.Repeat(1, n).ToArray();

    private static int?[] Broadcast(List<int?[]> shapes)
    {
        var rank = shapes.Max(s => s.Length);
        var r = new int?[rank];
        for (var i = 1; i <= rank; i++)
        {
            int? d = 1;
            foreach (var s in shapes)
            {
                if (s.Length < i) continue;
                var v = s[s.Length - i];
                if (v is null)
                {
                    if (d == 1) d = null;
                }
                else if (v != 1)
                {
                    d = v;
                }
            }
            r[rank - i] = d;
        }
        return r;
    }

    /// <summary>Scalar weights of a layer of class <paramref name="cls"/> whose (first) input has shape <paramref name="x"/>.</summary>
    private static long? Parameters(string cls, JsonObject c, int?[] x)
    {
        bool Bias() => c.Bool("use_bias", c.Bool("bias", true));
        switch (cls)
        {
            case "Dense" or "TimeDistributedDense":
                {
                    var units = c.Int("units", "output_dim");
                    return Mul(x[x.Length - 1], units) + (Bias() ? units : 0);
                }
            case "Conv1D" or "Conv2D" or "Conv3D" or "Convolution1D" or "Convolution2D" or "Convolution3D":
                {
                    var rank = x.Length - 2;
                    var kernel = Ints(c, rank, "kernel_size") ?? Keras1Kernel(c, rank);
                    var filters = c.Int("filters", "nb_filter");
                    var groups = c.Int("groups") ?? 1;
                    var inChannels = Channels(x, ChannelsFirst(c)) / groups;
                    return Mul(Mul(Product(kernel.Select(k => (int?)k)), inChannels), filters) + (Bias() ? filters : 0);
                }
            case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose" or "Deconvolution2D":
                {
                    var rank = x.Length - 2;
                    var kernel = Ints(c, rank, "kernel_size") ?? throw new InvalidOperationException();
                    var filters = c.Int("filters");
                    return Mul(Mul(Product(kernel.Select(k => (int?)k)), Channels(x, ChannelsFirst(c))), filters) + (Bias() ? filters : 0);
                }
            case "DepthwiseConv1D" or "DepthwiseConv2D":
                {
                    var rank = x.Length - 2;
                    var kernel = Ints(c, rank, "kernel_size") ?? throw new InvalidOperationException();
                    var outChannels = Mul(Channels(x, ChannelsFirst(c)), c.Int("depth_multiplier") ?? 1);
                    return Mul(Product(kernel.Select(k => (int?)k)), outChannels) + (Bias() ? outChannels : 0);
                }
            case "SeparableConv1D" or "SeparableConv2D":
                {
                    var rank = x.Length - 2;
                    var kernel = Ints(c, rank, "kernel_size") ?? throw new InvalidOperationException();
                    var middle = Mul(Channels(x, ChannelsFirst(c)), c.Int("depth_multiplier") ?? 1);
                    var filters = c.Int("filters");
                    return Mul(Product(kernel.Select(k => (int?)k)), middle) + Mul(middle, filters) + (Bias() ? filters : 0);
                }
            case "BatchNormalization":
                {
                    var perChannel = 2 + (c.Bool("scale", true) ? 1 : 0) + (c.Bool("center", true) ? 1 : 0);
                    return Mul(AxisSize(c, x), perChannel);
                }
            case "LayerNormalization" or "GroupNormalization":
                {
                    var perChannel = (c.Bool("scale", true) ? 1 : 0) + (c.Bool("center", true) ? 1 : 0);
                    return Mul(AxisSize(c, x), perChannel);
                }
            case "PReLU":
                {
                    var shared = Ints(c, 0, "shared_axes") ?? Array.Empty<int>();
                    return Product(x.Skip(1).Select((d, i) => shared.Contains(i + 1) ? 1 : d));
                }
            case "Embedding":
                return Mul(c.Int("input_dim"), c.Int("output_dim"));
            case "SimpleRNN" or "GRU" or "LSTM":
                {
                    var units = c.Int("units", "output_dim");
                    var gates = cls switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
                    var bias = !Bias() ? 0 : (cls == "GRU" && c.Bool("reset_after", false) ? 2 : 1);
                    var perGate = Mul(x[x.Length - 1], units) + Mul(units, units) + Mul(units, bias);
                    return Mul(perGate, gates);
                }
            case "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                {
                    var rank = x.Length - 3;
                    var kernel = Product((Ints(c, rank, "kernel_size") ?? throw new InvalidOperationException()).Select(k => (int?)k));
                    var filters = c.Int("filters");
                    var inChannels = ChannelsFirst(c) ? x[2] : x[x.Length - 1];
                    return Mul(4, Mul(Mul(kernel, inChannels), filters) + Mul(Mul(kernel, filters), filters) + (Bias() ? filters : 0));
                }
            case "Bidirectional":
                {
                    if (c["layer"] is not JsonObject inner || inner.String("class_name") is not { } innerClass || inner["config"] is not JsonObject innerConfig)
                        return null;
                    var one = Parameters(innerClass, innerConfig, x);
                    return one is null ? null : 2 * one;
                }
            case "TimeDistributed":
                {
                    if (c["layer"] is not JsonObject inner || inner.String("class_name") is not { } innerClass || inner["config"] is not JsonObject innerConfig)
                        return null;
                    if (s_weightless.Contains(innerClass)) return 0;
                    return Parameters(innerClass, innerConfig, new[] { x[0] }.Concat(x.Skip(2)).ToArray());
                }
            default:
                return null;
        }
    }

    /// <summary>Size of the normalised axis (or the product over several axes); Keras's default is the last axis.</summary>
    private static int? AxisSize(JsonObject c, int?[] x)
    {
        var axes = c["axis"] switch
        {
            JsonArray a => a.Items.Select(i => i.AsInt() ?? throw new InvalidOperationException()).ToArray(),
            JsonNode n when n.AsInt() is { } i => new[] { i },
            _ => new[] { -1 },
        };
        return Product(axes.Select(a => x[a < 0 ? x.Length + a : a]));
    }

    private static long? Mul(long? a, long? b) => a is null || b is null ? null : a * b;
}
