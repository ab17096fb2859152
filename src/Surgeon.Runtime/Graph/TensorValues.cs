using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>Reading small tensors (biases, statistics, scores) into managed memory.</summary>
internal static class TensorValues
{
    /// <summary>
    /// Every value of <paramref name="t"/> (any dtype and device) as doubles, in row-major order: read in place from a
    /// contiguous float32 CPU tensor, else through one converted contiguous CPU copy. (TorchSharp's
    /// <c>data&lt;T&gt;().ToArray()</c> reads element by element, which shows in per-layer loops.)
    /// </summary>
    public static double[] ToDoubles(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var scope = NewDisposeScope();
        var values = t.detach();
        if (values.device_type != TorchSharp.DeviceType.CPU) values = values.cpu();
        if (values.dtype == ScalarType.Float32 && values.is_contiguous())
        {
            var floats = MemoryMarshal.Cast<byte, float>(values.bytes);
            var result = new double[floats.Length];
            for (var i = 0; i < floats.Length; i++) result[i] = floats[i];
            return result;
        }
        return MemoryMarshal.Cast<byte, double>(values.to_type(ScalarType.Float64).contiguous().bytes).ToArray();
    }
}
