using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// Embedding: rows of the table at the input indices (float indices are truncated to integers, as Keras casts them);
/// with mask_zero the output mask marks the non-zero indices.
/// </summary>
internal sealed class EmbeddingKernel : LayerKernel
{
    private readonly Tensor _table;
    private readonly bool _maskZero;

    public EmbeddingKernel(KerasLayer layer) : base(layer)
    {
        // Keras 2/3 and tfjs: "embeddings"; Keras 1 stored "<layer>_W" (short name "kernel").
        var name = new[] { "embeddings", "kernel", "W" }.FirstOrDefault(n => layer.FindWeight(n) is not null)
            ?? throw new SurgeonException($"Layer '{layer.Name}' (Embedding) has no 'embeddings' weight; it has: {string.Join(", ", layer.Weights.Select(w => w.Name))}.");
        var table = layer.FindWeight(name)!.Value;
        if (table.dim() != 2 || !table.is_floating_point())
            throw new SurgeonException($"Layer '{layer.Name}' (Embedding) has an embeddings table of shape [{string.Join(", ", table.shape)}] and type {table.dtype}; expected a float (input_dim, output_dim) matrix (quantized embeddings are not supported).");
        _table = Own(table.detach().to_type(ScalarType.Float32).contiguous().clone());
        _maskZero = Bool(layer.ConfigNode, "mask_zero", false);
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        var indices = x.dtype == ScalarType.Int64 ? x : x.to_type(ScalarType.Int64);
        var rows = _table.shape[0];
        if (indices.numel() > 0)
        {
            var (lo, hi) = (indices.min().item<long>(), indices.max().item<long>());
            if (lo < 0 || hi >= rows)
                throw new SurgeonException($"Layer '{Layer.Name}' (Embedding) got index {(lo < 0 ? lo : hi)}, outside its table of {rows} rows (valid: 0 to {rows - 1}).");
        }
        var y = _table.index_select(0, indices.reshape(-1)).reshape(indices.shape.Append(_table.shape[1]).ToArray());
        return new KernelOutputs(new[] { y }, _maskZero ? x.ne(0) : null);
    }
}
