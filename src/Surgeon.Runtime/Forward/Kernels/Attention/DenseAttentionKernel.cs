using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Attention;

/// <summary>
/// Keras <c>Attention</c> (Luong, <c>score_mode</c> "dot" or "concat") and <c>AdditiveAttention</c> (Bahdanau), called on
/// <c>[query, value]</c> or <c>[query, value, key]</c>. As in Keras 2 (<c>BaseDenseAttention</c>) and Keras 3:
/// <list type="number">
/// <item>scores (…, Tq, Tv): dot <c>q·kᵀ</c> (times <c>scale</c>); concat <c>w·Σ tanh(scale·(q + k))</c>; additive
/// <c>Σ scale·tanh(q + k)</c>;</item>
/// <item>positions where the value mask (broadcast over Tq) or the causal mask (<c>use_causal_mask</c> call argument, or
/// the Keras 2 <c>causal</c> config) is false get <c>scores − 1e9</c>;</item>
/// <item><c>softmax(scores) · v</c>, zeroed where the query mask is false; the output mask is the query mask.</item>
/// </list>
/// Dropout on the attention weights is not applied (inference). <c>return_attention_scores</c> adds the weights
/// (after masking and softmax) as a second output.
/// </summary>
internal sealed class DenseAttentionKernel : LayerKernel
{
    /// <summary>The bias Keras subtracts from masked scores (float32; 65504 is only used for float16).</summary>

    private readonly bool _additive;
    private readonly bool _concat;
    private readonly bool _causal;
    private readonly Tensor? _scale;
    private readonly Tensor? _concatScoreWeight;
    private readonly AttentionCall _call;

    public DenseAttentionKernel(KerasLayer layer) : base(layer)
    {
        var c = layer.ConfigNode;
        _additive = layer.ClassName == "AdditiveAttention";
        var mode = String(c, "score_mode") ?? "dot";
        if (!_additive && mode is not ("dot" or "concat"))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: score_mode '{mode}' is not one of 'dot', 'concat'.");
        _concat = !_additive && mode == "concat";
        _causal = Bool(c, "causal", false); // Keras 2 config argument, later the use_causal_mask call argument
        var useScale = Bool(c, "use_scale", _additive);
        _scale = useScale ? Weight("scale", w => w.to_type(ScalarType.Float32)) : null;
        _concatScoreWeight = _concat ? Weight("concat_score_weight", w => w.to_type(ScalarType.Float32)) : null;
        _call = AttentionCall.For(layer, multiHead: false);
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var q = inputs[_call.Query];
        var v = inputs[_call.Value];
        var k = _call.Key >= 0 ? inputs[_call.Key] : v;
        var queryMask = AttentionMasks.Of(inputs, _call.QueryMask, _call.Query);
        var valueMask = AttentionMasks.Of(inputs, _call.ValueMask, _call.Value);

        var scores = Scores(q, k);
        var scoresMask = valueMask?.unsqueeze(-2); // (B, 1, Tv)
        if (_causal || _call.UseCausalMask)
        {
            var tq = scores.shape[^2];
            var tv = scores.shape[^1];
            var causal = ones(tq, tv, ScalarType.Bool, scores.device).tril(); // row >= column
            scoresMask = scoresMask is null ? causal : scoresMask.logical_and(causal);
        }
        if (scoresMask is not null) scores = where(scoresMask, scores, scores - AttentionMasks.Bias);

        var weights = scores.softmax(-1);
        var output = weights.matmul(v);
        if (queryMask is not null) output = where(queryMask.unsqueeze(-1), output, zeros_like(output));
        var tensors = _call.ReturnAttentionScores ? new[] { output, weights } : new[] { output };
        return new KernelOutputs(tensors, queryMask);
    }

    private Tensor Scores(Tensor q, Tensor k)
    {
        if (!_additive && !_concat)
        {
            var dot = q.matmul(k.transpose(-1, -2));
            return _scale is null ? dot : dot * _scale;
        }
        var sum = q.unsqueeze(-2) + k.unsqueeze(-3); // (B, Tq, 1, d) + (B, 1, Tv, d)
        if (_additive) return (_scale is null ? sum.tanh() : _scale * sum.tanh()).sum(-1);
        var reduced = (_scale is null ? sum : _scale * sum).tanh().sum(-1);
        return _concatScoreWeight! * reduced;
    }
}
