using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Attention;

/// <summary>
/// Keras <c>MultiHeadAttention</c>, called as <c>mha(query, value, key=None, ...)</c> on tensors of shape
/// (B, T₁…Tₙ, dim) with the default <c>attention_axes</c> (every axis between batch and features). As in Keras 2 and 3:
/// <list type="number">
/// <item>projections (einsum <c>abc,cde->abde</c>): <c>q·Wq + bq</c> (B, T, H, key_dim), <c>k·Wk + bk</c>,
/// <c>v·Wv + bv</c> (B, S, H, value_dim);</item>
/// <item>scores <c>einsum(aecd,abcd->acbe)(k, q / √key_dim)</c> (B, H, T, S);</item>
/// <item>the attention mask — the query mask (B, T, 1) AND the value mask (B, 1, S) AND the key mask AND an explicit
/// <c>attention_mask</c> AND the causal mask (<c>use_causal_mask</c>) AND the sliding-window band — adds −1e9 where
/// false (Keras 2 and Keras 3 up to 3.13 <c>Softmax</c>; later Keras 3 versions differ only on rows whose every key
/// is masked);</item>
/// <item>softmax over S, combine with the values (B, T, H, value_dim), times the sigmoid gate (Keras 3
/// <c>use_gate</c>), then the output projection <c>einsum(abcd,cde->abe)</c> + bias to <c>output_shape</c> (default:
/// the query's feature size).</item>
/// </list>
/// The output mask is the query's mask. Dropout is not applied (inference). <c>return_attention_scores</c> adds the
/// (B, H, T, S) weights as a second output.
/// </summary>
internal sealed class MultiHeadAttentionKernel : LayerKernel
{

    private readonly int _numHeads;
    private readonly int _keyDim;
    private readonly int _valueDim;
    private readonly int? _slidingWindow;
    private readonly int[]? _attentionAxes;
    private readonly int _kerasMajorVersion;
    private readonly Projection _query, _key, _value;
    private readonly Projection? _gate;
    private readonly Tensor _outputKernel; // (H·value_dim, prod(output_shape))
    private readonly Tensor? _outputBias;  // (prod(output_shape))
    private readonly long[] _outputShape;
    private readonly AttentionCall _call;

    /// <summary>A (dim) → (H, channels) einsum projection as a matrix: kernel (dim, H·channels), bias (H·channels).</summary>
    private sealed record Projection(Tensor Kernel, Tensor? Bias, long InputDim);

    public MultiHeadAttentionKernel(KerasLayer layer, ForwardContext context) : base(layer)
    {
        var c = layer.ConfigNode;
        _kerasMajorVersion = context.KerasMajorVersion;
        _numHeads = Int(c, "num_heads") ?? throw Refuse(layer, "its config has no 'num_heads'.");
        _keyDim = Int(c, "key_dim") ?? throw Refuse(layer, "its config has no 'key_dim'.");
        _valueDim = Int(c, "value_dim") ?? _keyDim;
        _slidingWindow = Int(c, "sliding_window");
        _attentionAxes = AttentionAxes(layer, c["attention_axes"]);
        if (_attentionAxes is not null && QueryRank(c) is { } rank) CheckAxes(rank);

        _query = Project("query", _keyDim);
        _key = Project("key", _keyDim);
        _value = Project("value", _valueDim);
        _gate = Bool(c, "use_gate", false) ? Project("gate", _valueDim) : null;

        var outKernel = Layer.FindWeight("attention_output/kernel") ?? throw Refuse(layer, "it has no weight 'attention_output/kernel'.");
        var shape = outKernel.Shape;
        if (shape.Length < 3 || shape[0] != _numHeads || shape[1] != _valueDim)
            throw Refuse(layer, $"its weight 'attention_output/kernel' has shape [{string.Join(", ", shape)}], expected [{_numHeads}, {_valueDim}, ...].");
        _outputShape = shape[2..];
        var outSize = _outputShape.Aggregate(1L, (a, b) => a * b);
        _outputKernel = Weight("attention_output/kernel", w => w.to_type(ScalarType.Float32).reshape(_numHeads * _valueDim, outSize));
        _outputBias = OptionalWeight("attention_output/bias", w => w.to_type(ScalarType.Float32).reshape(outSize));
        _call = AttentionCall.For(layer, multiHead: true);
    }

    private Projection Project(string name, int channels)
    {
        var kernel = Layer.FindWeight(name + "/kernel") ?? throw Refuse(Layer, $"it has no weight '{name}/kernel'.");
        var shape = kernel.Shape;
        if (shape.Length != 3 || shape[1] != _numHeads || shape[2] != channels)
            throw Refuse(Layer, $"its weight '{name}/kernel' has shape [{string.Join(", ", shape)}], expected [dim, {_numHeads}, {channels}].");
        var width = _numHeads * channels;
        return new Projection(
            Weight(name + "/kernel", w => w.to_type(ScalarType.Float32).reshape(shape[0], width)),
            OptionalWeight(name + "/bias", w => w.to_type(ScalarType.Float32).reshape(width)),
            shape[0]);
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var query = inputs[_call.Query];
        var value = inputs[_call.Value];
        var key = _call.Key >= 0 ? inputs[_call.Key] : value;
        var rank = (int)query.dim();
        if (rank < 3 || value.dim() != rank || key.dim() != rank)
            throw Refuse(Layer, $"it takes query, value and key of equal rank ≥ 3, got shapes {Shape(query)}, {Shape(value)}, {Shape(key)}.");
        if (_attentionAxes is not null) CheckAxes(rank);

        var queryMask = AttentionMasks.Of(inputs, _call.QueryMask, _call.Query);
        var valueMask = AttentionMasks.Of(inputs, _call.ValueMask, _call.Value);
        var keyMask = _call.Key >= 0 || _call.KeyMask >= 0 ? AttentionMasks.Of(inputs, _call.KeyMask, _call.Key) : null;
        var attentionMask = _call.AttentionMask >= 0 ? AttentionMasks.ToBool(inputs[_call.AttentionMask]) : null;

        var batch = query.shape[0];
        var queryDims = query.shape[1..^1];
        var valueDims = value.shape[1..^1];
        var t = queryDims.Aggregate(1L, (a, b) => a * b);
        var s = valueDims.Aggregate(1L, (a, b) => a * b);

        // (B, T, H, C) projections; attention over all middle axes flattened into one.
        var q = Apply(_query, query).reshape(batch, t, _numHeads, _keyDim);
        var k = Apply(_key, key).reshape(batch, s, _numHeads, _keyDim);
        var v = Apply(_value, value).reshape(batch, s, _numHeads, _valueDim);

        q = q * (float)(1.0 / Math.Sqrt(_keyDim));
        var scores = q.permute(0, 2, 1, 3).matmul(k.permute(0, 2, 3, 1)); // (B, H, T, S)

        var mask = AttentionMask(queryMask, valueMask, keyMask, attentionMask, rank, t, s, scores.device);
        if (mask is not null)
        {
            // (B, T, S) or (1, T, S) → (B, 1, T, S), as Keras expands before the heads axis.
            while (mask.dim() < 3) mask = mask.unsqueeze(0);
            scores = where(mask.unsqueeze(-3), scores, scores - AttentionMasks.Bias);
        }
        var weights = scores.softmax(-1);
        var combined = weights.matmul(v.permute(0, 2, 1, 3)).permute(0, 2, 1, 3); // (B, T, H, value_dim)
        if (_gate is not null) combined = combined * Apply(_gate, query).sigmoid().reshape(batch, t, _numHeads, _valueDim);

        var output = combined.reshape(batch * t, _numHeads * _valueDim).matmul(_outputKernel);
        if (_outputBias is not null) output = output + _outputBias;
        output = output.reshape(new[] { batch }.Concat(queryDims).Concat(_outputShape).ToArray());

        if (!_call.ReturnAttentionScores) return new KernelOutputs(new[] { output }, queryMask);
        var shapedWeights = weights.reshape(new[] { batch, _numHeads }.Concat(queryDims).Concat(valueDims).ToArray());
        return new KernelOutputs(new[] { output, shapedWeights }, queryMask);
    }

    /// <summary>x (…, dim) times the projection kernel plus bias: (…, H·channels).</summary>
    private Tensor Apply(Projection p, Tensor x)
    {
        if (x.shape[^1] != p.InputDim)
            throw Refuse(Layer, $"an input has {x.shape[^1]} features but its projection kernel expects {p.InputDim}.");
        var y = x.matmul(p.Kernel);
        return p.Bias is null ? y : y + p.Bias;
    }

    /// <summary>The combined boolean attention mask (B|1, T, S), or null when nothing is masked.</summary>
    private Tensor? AttentionMask(Tensor? queryMask, Tensor? valueMask, Tensor? keyMask, Tensor? explicitMask, int rank, long t, long s, Device device)
    {
        var anyMask = queryMask is not null || valueMask is not null || keyMask is not null || explicitMask is not null
            || _call.UseCausalMask || _slidingWindow is not null;
        if (!anyMask) return null;
        if (rank != 3)
            throw Refuse(Layer, $"masks are supported for inputs of rank 3 (batch, time, features) only; got rank {rank}.");
        Tensor? auto = null;
        void And(Tensor m) => auto = auto is null ? m : auto.logical_and(m);
        if (queryMask is not null) And(queryMask.unsqueeze(-1));  // (B, T, 1)
        if (valueMask is not null) And(valueMask.unsqueeze(-2));  // (B, 1, S)
        if (keyMask is not null) And(keyMask.unsqueeze(-2));      // (B, 1, S)
        if (_call.UseCausalMask) And(ones(1, t, s, ScalarType.Bool, device).tril());
        if (_slidingWindow is { } w)
        {
            var rows = arange(t, ScalarType.Int64, device).reshape(1, t, 1);
            var cols = arange(s, ScalarType.Int64, device).reshape(1, 1, s);
            And((rows - cols).abs() < w);
        }
        if (explicitMask is null) return auto;
        return auto is null ? explicitMask : explicitMask.logical_and(auto);
    }

    private static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    /// <summary>The configured <c>attention_axes</c> (null: the default), as written.</summary>
    private static int[]? AttentionAxes(KerasLayer layer, JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out int i) => new[] { i },
        JsonArray a when a.All(x => x is JsonValue xv && xv.TryGetValue(out int _)) => a.Select(x => x!.GetValue<int>()).ToArray(),
        _ => throw Refuse(layer, $"its attention_axes {node.ToJsonString()} is not an axis or a list of axes."),
    };

    /// <summary>Accepts <c>attention_axes</c> only when it names the default (every axis between batch and features).</summary>
    private void CheckAxes(int inputRank)
    {
        // Keras indexes the axes on the projected tensor (B, T…, H, C) of rank inputRank + 1. Keras 3 maps a negative
        // axis a to (rank − 1) + a; Keras 2 uses it as a Python index, rank + a.
        var projectedRank = inputRank + 1;
        var normalized = _attentionAxes!.Select(a => a >= 0 ? a : _kerasMajorVersion >= 3 ? projectedRank - 1 + a : projectedRank + a).ToArray();
        var expected = Enumerable.Range(1, inputRank - 2).ToArray();
        if (!normalized.SequenceEqual(expected))
            throw Refuse(Layer, $"attention_axes [{string.Join(", ", _attentionAxes!)}] is not supported; only the default (axes {string.Join(", ", expected)} for rank-{inputRank} inputs) is.");
    }

    /// <summary>The query rank recorded in the config (Keras 2 <c>query_shape</c>, Keras 3 <c>build_config</c>), if any.</summary>
    private int? QueryRank(JsonObject config)
    {
        var shape = config["query_shape"] as JsonArray
            ?? ((Layer.Entry["build_config"] as JsonObject)?["shapes_dict"] as JsonObject)?["query_shape"] as JsonArray;
        return shape?.Count;
    }

    private static SurgeonException Refuse(KerasLayer layer, string reason) =>
        new($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: {reason}");
}
