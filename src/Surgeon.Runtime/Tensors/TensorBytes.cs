using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon.Tensors;

/// <summary>Moves raw little-endian element bytes in and out of tensors without intermediate arrays.</summary>
internal static class TensorBytes
{
    /// <summary>A new CPU tensor of <paramref name="dtype"/> and <paramref name="shape"/> holding <paramref name="bytes"/>.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType dtype, long[] shape)
    {
        var t = empty(shape, dtype);
        var dst = t.bytes;
        if (dst.Length != bytes.Length)
        {
            t.Dispose();
            throw new ArgumentException($"{bytes.Length} bytes cannot fill a {dtype} tensor of shape [{string.Join(", ", shape)}] ({dst.Length} bytes).");
        }
        bytes.CopyTo(dst);
        return t;
    }

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Bool => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        _ => throw new NotSupportedException($"dtype {dtype} is not supported in model files."),
    };

    /// <summary>
    /// Runs <paramref name="use"/> on the bytes of <paramref name="t"/> in row-major order. Tensors on another device
    /// or not contiguous are copied to a temporary CPU tensor first.
    /// </summary>
    public static void WithBytes(Tensor t, Action<ReadOnlyMemory<byte>> use)
    {
        using var cpu = t.device_type == DeviceType.CPU && t.is_contiguous() ? t.alias() : t.detach().to(CPU).contiguous();
        // The span is only valid while 'cpu' lives; hand a copy-free memory view through a pinned manager.
        using var manager = new NativeMemoryManager(cpu);
        use(manager.Memory);
    }

    /// <summary>A copy of the tensor's bytes (for small tensors and tests).</summary>
    public static byte[] ToArray(Tensor t)
    {
        byte[]? result = null;
        WithBytes(t, m => result = m.ToArray());
        return result!;
    }

    private sealed unsafe class NativeMemoryManager : System.Buffers.MemoryManager<byte>
    {
        private readonly Tensor _tensor;
        private readonly int _length;

        public NativeMemoryManager(Tensor tensor)
        {
            _tensor = tensor;
            var bytes = tensor.numel() * tensor.element_size();
            if (bytes > int.MaxValue)
                throw new NotSupportedException($"A single weight of {bytes} bytes exceeds the 2 GiB limit of one HDF5 write buffer.");
            _length = (int)bytes;
        }

        public override Span<byte> GetSpan() => _length == 0 ? Span<byte>.Empty : _tensor.bytes;

        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0)
        {
            fixed (byte* p = GetSpan())
            {
                // libtorch memory does not move: the pointer stays valid while the tensor lives.
                return new System.Buffers.MemoryHandle(p + elementIndex);
            }
        }

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }
}
