using Surgeon.Forward.Kernels.Attention;

namespace Surgeon.Forward.Kernels;

/// <summary>Attention, AdditiveAttention, MultiHeadAttention.</summary>
internal static class AttentionKernels
{
    public static void Register(Dictionary<string, KernelFactory.Builder> r)
    {
        r["Attention"] = (layer, _) => new DenseAttentionKernel(layer);
        r["AdditiveAttention"] = (layer, _) => new DenseAttentionKernel(layer);
        r["MultiHeadAttention"] = (layer, context) => new MultiHeadAttentionKernel(layer, context);
    }
}
