using Surgeon.Forward.Kernels.Recurrent;

namespace Surgeon.Forward.Kernels;

/// <summary>Embedding, SimpleRNN, GRU, LSTM, ConvLSTM1D/2D/3D, Bidirectional, TimeDistributed.</summary>
internal static class RecurrentKernels
{
    public static void Register(Dictionary<string, KernelFactory.Builder> r)
    {
        r["Embedding"] = (l, _) => new EmbeddingKernel(l);
        foreach (var name in new[] { "SimpleRNN", "GRU", "LSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D" })
            r[name] = (l, c) => new RecurrentKernel(l, c);
        r["Bidirectional"] = (l, c) => new BidirectionalKernel(l, c);
        r["TimeDistributed"] = (l, c) => new TimeDistributedKernel(l, c);
    }
}
