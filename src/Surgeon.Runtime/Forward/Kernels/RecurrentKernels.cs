namespace Surgeon.Forward.Kernels;

/// <summary>Embedding, SimpleRNN, GRU, LSTM, ConvLSTM2D, Bidirectional, TimeDistributed.</summary>
internal static class RecurrentKernels
{
    public static void Register(Dictionary<string, KernelFactory.Builder> r)
    {
    }
}
