namespace Surgeon.Forward.Kernels;

/// <summary>Attention, AdditiveAttention, MultiHeadAttention.</summary>
internal static class AttentionKernels
{
    public static void Register(Dictionary<string, KernelFactory.Builder> r)
    {
    }
}
