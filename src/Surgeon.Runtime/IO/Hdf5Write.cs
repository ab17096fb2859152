using System.Buffers;
using PureHDF;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>Turns tensors into PureHDF datasets that read the tensor memory in place (no managed copy).</summary>
internal sealed class Hdf5Write : IDisposable
{
    private readonly List<Tensor> _keepAlive = new();

    /// <summary>
    /// A dataset over <paramref name="t"/>'s elements. CPU contiguous tensors are read in place; others are copied to
    /// a temporary CPU tensor that lives until this object is disposed (after the file is written).
    /// </summary>
    public unsafe H5Dataset Dataset(Tensor t, string? file, string what)
    {
        var cpu = t.device_type == TorchSharp.DeviceType.CPU && t.is_contiguous() ? t.alias() : t.detach().to(CPU).contiguous();
        _keepAlive.Add(cpu);
        var count = cpu.numel();
        var bytes = count * cpu.element_size();
        if (bytes > int.MaxValue)
            throw new KerasFormatException(file, $"{what} has {bytes:N0} bytes; a single weight over 2 GiB cannot be written yet.");
        var dims = cpu.shape.Select(d => (ulong)d).ToArray();
        byte* p = null;
        if (count > 0)
        {
            fixed (byte* q = cpu.bytes) p = q; // libtorch memory does not move while the tensor lives
        }
        var n = (int)count;
        return cpu.dtype switch
        {
            ScalarType.Float32 => Make<float>(p, n, dims),
            ScalarType.Float64 => Make<double>(p, n, dims),
            ScalarType.Float16 => Make<Half>(p, n, dims),
            ScalarType.Int32 => Make<int>(p, n, dims),
            ScalarType.Int64 => Make<long>(p, n, dims),
            ScalarType.Int16 => Make<short>(p, n, dims),
            ScalarType.Int8 => Make<sbyte>(p, n, dims),
            ScalarType.Byte or ScalarType.Bool => Make<byte>(p, n, dims),
            _ => throw new KerasFormatException(file, $"{what} has dtype {cpu.dtype}, which cannot be written to HDF5."),
        };
    }

    private static unsafe H5Dataset Make<T>(byte* p, int count, ulong[] dims) where T : unmanaged
    {
        if (dims.Length == 0)
        {
            return new H5Dataset(*(T*)p); // a scalar dataspace, as h5py writes 0-d arrays
        }
        var memory = count == 0 ? Memory<T>.Empty : new NativeMemory<T>((T*)p, count).Memory;
        return new H5Dataset(memory, fileDims: dims);
    }

    public void Dispose()
    {
        foreach (var t in _keepAlive) t.Dispose();
        _keepAlive.Clear();
    }

    private sealed unsafe class NativeMemory<T> : MemoryManager<T> where T : unmanaged
    {
        private readonly T* _pointer;
        private readonly int _length;

        public NativeMemory(T* pointer, int length)
        {
            _pointer = pointer;
            _length = length;
        }

        public override Span<T> GetSpan() => new(_pointer, _length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }

    /// <summary>
    /// Adds <paramref name="value"/> at a '/'-separated <paramref name="path"/> below <paramref name="group"/>,
    /// creating intermediate groups (Keras weight names like <c>dense/kernel:0</c> become nested groups).
    /// </summary>
    public static void Put(H5Group group, string path, object value, string? file)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new KerasFormatException(file, $"cannot store a weight under the empty name '{path}'.");
        var g = group;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            if (!g.TryGetValue(parts[i], out var existing))
            {
                var created = new H5Group();
                g[parts[i]] = created;
                g = created;
            }
            else if (existing is H5Group sub)
            {
                g = sub;
            }
            else
            {
                throw new KerasFormatException(file, $"weight path '{path}' collides with a dataset at '{parts[i]}'.");
            }
        }
        if (g.ContainsKey(parts[^1])) throw new KerasFormatException(file, $"two weights would be stored at '{path}'.");
        g[parts[^1]] = value;
    }

    /// <summary>The group at a '/'-separated path, created if needed.</summary>
    public static H5Group Group(H5Group root, string path)
    {
        var g = root;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!g.TryGetValue(part, out var existing))
            {
                var created = new H5Group();
                g[part] = created;
                g = created;
            }
            else
            {
                g = existing as H5Group ?? throw new InvalidOperationException($"'{part}' is a dataset, not a group.");
            }
        }
        return g;
    }
}
