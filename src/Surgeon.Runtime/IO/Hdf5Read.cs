using PureHDF;
using PureHDF.VOL.Native;
using Surgeon.Tensors;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>Reading helpers over PureHDF that turn its failures into <see cref="KerasFormatException"/>s.</summary>
internal static class Hdf5Read
{
    /// <summary>Largest total size of one weight we accept, as a guard against corrupt shape declarations.</summary>
    public const long MaxTensorBytes = 16L << 30;

    /// <summary>
    /// Largest ratio of a chunked dataset's size to its file's size we accept: deflate, the compression h5py offers
    /// Keras users, cannot exceed about 1032:1.
    /// Without it, a few bytes declaring a chunked dataset whose chunks were never written make us allocate and
    /// fill the whole declared size.
    /// </summary>
    public const long MaxCompressionRatio = 1100;

    /// <summary>Largest declared size of a string attribute we read (Keras's largest, <c>model_config</c>, is a few MB).</summary>
    private const long MaxAttributeBytes = 256L << 20;

    public static NativeFile Open(string file)
    {
        using (var s = File.OpenRead(file)) CheckSuperblock(file, s);
        try
        {
            return H5File.OpenRead(file);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new KerasFormatException(file, $"is not a readable HDF5 file ({e.Message.TrimEnd('.')}).", inner: e);
        }
    }

    /// <summary>Opens an HDF5 file held in a readable, seekable stream (left open); messages name <paramref name="file"/>.</summary>
    public static NativeFile Open(Stream stream, string file)
    {
        CheckSuperblock(file, stream);
        stream.Position = 0;
        try
        {
            return H5File.Open(stream, leaveOpen: true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new KerasFormatException(file, $"is not a readable HDF5 file ({e.Message.TrimEnd('.')}).", inner: e);
        }
    }

    /// <summary>
    /// Checks the HDF5 superblock before PureHDF parses anything: the signature, the version, and that the end-of-file
    /// address it records fits in the file (the check the HDF5 C library makes). PureHDF reads past the end of a
    /// truncated file as zeros, so without this a truncated file can give odd errors or silently wrong data.
    /// </summary>
    private static void CheckSuperblock(string file, Stream s)
    {
        var length = s.Length;
        var head = new byte[96];
        for (long at = 0; ; at = at == 0 ? 512 : at * 2)
        {
            if (at + 8 > length) throw new KerasFormatException(file, $"is not an HDF5 file (no HDF5 signature; {length} bytes).");
            s.Position = at;
            var n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (n < 8 || head[0] != 0x89 || head[1] != (byte)'H' || head[2] != (byte)'D' || head[3] != (byte)'F') continue;
            // Every superblock version with its root group takes more than 48 bytes.
            if (n < 48) throw new KerasFormatException(file, $"is truncated: its HDF5 superblock is incomplete ({length} bytes).");
            var version = head[8];
            int offsetSize, pos;
            switch (version)
            {
                case 0 or 1:
                    offsetSize = head[13];
                    pos = 24 + (version == 1 ? 4 : 0);
                    break;
                case 2 or 3:
                    offsetSize = head[9];
                    pos = 12;
                    break;
                default:
                    throw new KerasFormatException(file, $"has an unsupported HDF5 superblock version {version}.");
            }
            if (offsetSize is not (4 or 8)) throw new KerasFormatException(file, $"has an unsupported HDF5 offset size {offsetSize}: it is corrupt.");
            if (n < pos + 3 * offsetSize) throw new KerasFormatException(file, $"is truncated: its HDF5 superblock is incomplete ({length} bytes).");
            ulong Read(int p) => offsetSize == 8 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(p)) : System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(p));
            var baseAddress = Read(pos);
            var eof = Read(pos + 2 * offsetSize);
            if (eof == ulong.MaxValue || (offsetSize == 4 && eof == uint.MaxValue))
                throw new KerasFormatException(file, "was not closed properly by its writer (undefined end-of-file address).");
            if ((ulong)length < baseAddress + eof)
                throw new KerasFormatException(file, $"is truncated: its header says {baseAddress + eof:N0} bytes but the file has {length:N0}.");
            return;
        }
    }

    /// <summary>Runs a PureHDF read, mapping its exceptions to a clear message naming file, layer and weight.</summary>
    public static T Guard<T>(string file, string? layer, string? weight, string what, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (KerasFormatException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            throw new KerasFormatException(file, $"cannot read {what}: the file is truncated or corrupt ({e.GetType().Name}: {e.Message.TrimEnd('.')}).", layer, weight, e);
        }
    }

    public static bool HasAttribute(IH5Object o, string name) => o.AttributeExists(name);

    /// <summary>Whether <paramref name="group"/> has a link <paramref name="name"/>; a corrupt group is a <see cref="KerasFormatException"/>.</summary>
    public static bool LinkExists(string file, IH5Group group, string name, string? layer = null) =>
        Guard(file, layer, null, $"link '{name}'", () => group.LinkExists(name));

    /// <summary>A string attribute (fixed or variable length, ASCII or UTF-8, scalar or a one-element array), or null if absent.</summary>
    public static string? StringAttribute(string file, IH5Object o, string name, string? layer = null)
    {
        return Guard(file, layer, null, $"attribute '{name}'", () =>
        {
            if (!o.AttributeExists(name)) return null;
            var a = o.Attribute(name);
            if (a.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
                throw new KerasFormatException(file, $"attribute '{name}' is not a string ({a.Type.Class}).", layer);
            CheckAttributeSize(file, a, name, layer);
            var s = a.Space.Type == H5DataspaceType.Scalar ? ReadAttribute<string>(file, a, name, layer) : ReadAttribute<string[]>(file, a, name, layer).FirstOrDefault() ?? "";
            return s.TrimEnd('\0');
        });
    }

    /// <summary>
    /// A list-of-names attribute (<c>layer_names</c>, <c>weight_names</c>) in any of Keras's encodings: fixed-length
    /// or variable-length strings, split into <c>name0</c>, <c>name1</c>, ... when large, or the empty float64
    /// array Keras writes for "no names". Null when absent.
    /// </summary>
    public static string[]? NameListAttribute(string file, IH5Object o, string name, string? layer = null) =>
        Guard(file, layer, null, $"attribute '{name}'", () =>
        {
            if (o.AttributeExists(name)) return ReadNames(file, o, name, layer);
            if (!o.AttributeExists(name + "0")) return null;
            var all = new List<string>();
            for (var i = 0; o.AttributeExists(name + i); i++) all.AddRange(ReadNames(file, o, name + i, layer));
            return all.ToArray();
        });

    private static string[] ReadNames(string file, IH5Object o, string name, string? layer) =>
        Guard(file, layer, null, $"attribute '{name}'", () =>
        {
            var a = o.Attribute(name);
            switch (a.Type.Class)
            {
                case H5DataTypeClass.String or H5DataTypeClass.VariableLength:
                    CheckAttributeSize(file, a, name, layer);
                    var values = a.Space.Type == H5DataspaceType.Scalar ? new[] { ReadAttribute<string>(file, a, name, layer) } : ReadAttribute<string[]>(file, a, name, layer);
                    return values.Select(v => v.TrimEnd('\0')).ToArray();
                case H5DataTypeClass.FloatingPoint or H5DataTypeClass.FixedPoint
                    when a.Space.Type == H5DataspaceType.Simple && a.Space.Dimensions.All(d => d == 0) || a.Space.Type == H5DataspaceType.Null:
                    return Array.Empty<string>();
                default:
                    throw new KerasFormatException(file, $"attribute '{name}' should list names but is of type {a.Type.Class}.", layer);
            }
        });

    /// <summary>
    /// Reads an attribute. PureHDF sizes its buffers from the file (e.g. a variable-length string's global heap
    /// collection), so a corrupt size surfaces as an <see cref="OutOfMemoryException"/> for an impossible array.
    /// </summary>
    private static T ReadAttribute<T>(string file, IH5Attribute a, string name, string? layer)
    {
        try
        {
            return a.Read<T>();
        }
        catch (OutOfMemoryException e)
        {
            throw new KerasFormatException(file, $"attribute '{name}' declares more data than can be allocated: the file is corrupt.", layer, inner: e);
        }
    }

    /// <summary>Refuses an attribute declaring more data than any Keras attribute holds, before PureHDF allocates it.</summary>
    private static void CheckAttributeSize(string file, IH5Attribute a, string name, string? layer)
    {
        long count = 1;
        if (a.Space.Type == H5DataspaceType.Simple)
        {
            foreach (var d in a.Space.Dimensions)
            {
                if (d > MaxAttributeBytes || (count *= (long)d) > MaxAttributeBytes)
                    throw new KerasFormatException(file, $"attribute '{name}' declares dimensions [{string.Join(", ", a.Space.Dimensions)}]: the file is corrupt.", layer);
            }
        }
        if (count * a.Type.Size > MaxAttributeBytes)
            throw new KerasFormatException(file, $"attribute '{name}' declares {count * a.Type.Size:N0} bytes: the file is corrupt.", layer);
    }

    /// <summary>Reads a dataset into a new CPU tensor of the matching dtype, straight into the tensor's memory.</summary>
    /// <remarks>
    /// With <paramref name="deferred"/> and the dataset's full <paramref name="path"/>, a large uncompressed dataset is
    /// only checked and allocated here; its bytes are read later by <see cref="DeferredReads.Execute"/>, in parallel.
    /// </remarks>
    public static Tensor ReadTensor(string file, IH5Dataset dataset, string? layer, string weight, long fileLength,
        DeferredReads? deferred = null, string? path = null)
    {
        var (dtype, shape) = Guard(file, layer, weight, "dataset header", () =>
        {
            if (dataset.Space.Type == H5DataspaceType.Null)
                throw new KerasFormatException(file, "is a dataset without a dataspace.", layer, weight);
            return (DType(file, dataset, layer, weight), Shape(dataset));
        });
        long count = 1;
        foreach (var d in shape)
        {
            // Divide rather than multiply first, so that a product beyond 64 bits cannot wrap around to a small count.
            if (d < 0 || d > MaxTensorBytes || (d > 0 && count > MaxTensorBytes / d))
                throw new KerasFormatException(file, $"declares an absurd shape [{string.Join(", ", shape)}].", layer, weight);
            count *= d;
        }
        var bytes = count * TensorBytes.ElementSize(dtype);
        var layout = Guard(file, layer, weight, "dataset layout", () => dataset.Layout);
        var chunked = layout.Class == H5DataLayoutClass.Chunked;
        if (layout.Class == H5DataLayoutClass.VirtualStorage)
            throw new KerasFormatException(file, "is a virtual dataset, which model files never use.", layer, weight);
        if (layout.Class == H5DataLayoutClass.Compact && bytes > 65536)
            throw new KerasFormatException(file, $"is a compact dataset declaring {bytes:N0} bytes (compact data is at most 64 KiB): the file is corrupt.", layer, weight);
        if (chunked)
        {
            long chunks = 1;
            var chunkDims = layout.Chunks;
            for (var i = 0; i < shape.Length && i < chunkDims.Length; i++)
                chunks *= (shape[i] + Math.Max(1L, (long)chunkDims[i]) - 1) / Math.Max(1L, (long)chunkDims[i]);
            if (chunks > 1_000_000)
                throw new KerasFormatException(file, $"is split into {chunks:N0} chunks, more than any real weight: the file is corrupt.", layer, weight);
        }
        if (bytes > int.MaxValue)
            throw new KerasFormatException(file, $"has {bytes:N0} bytes; single weights over 2 GiB are not supported yet.", layer, weight);
        if (bytes > MaxTensorBytes || (!chunked && bytes > fileLength))
            throw new KerasFormatException(file, $"declares {bytes:N0} bytes of data ([{string.Join(", ", shape)}] {dtype}) but the file has only {fileLength:N0} bytes: it is truncated or corrupt.", layer, weight);
        if (chunked && bytes / MaxCompressionRatio > fileLength)
            throw new KerasFormatException(file, $"declares {bytes:N0} bytes of data ([{string.Join(", ", shape)}] {dtype}), more than its {fileLength:N0}-byte file can hold even compressed: it is corrupt or its chunks were never written.", layer, weight);
        var t = empty(shape, dtype);
        try
        {
            if (deferred is not null && path is not null && !chunked && bytes >= DeferredReads.MinBytes)
            {
                deferred.Add(path, t, layer, weight);
            }
            else if (bytes > 0)
            {
                Guard(file, layer, weight, "weight data", () =>
                {
                    ((NativeDataset)dataset).Read<byte>(t.bytes);
                    return 0;
                });
            }
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    private static long[] Shape(IH5Dataset d) =>
        d.Space.Type == H5DataspaceType.Scalar ? Array.Empty<long>() : d.Space.Dimensions.Select(x => (long)Math.Min(x, long.MaxValue)).ToArray();

    private static ScalarType DType(string file, IH5Dataset d, string? layer, string weight)
    {
        var t = d.Type;
        if (Hdf5Types.IsBigEndian(t))
            throw new KerasFormatException(file, "is stored big-endian, which Keras never writes; re-save it little-endian.", layer, weight);
        return (t.Class, t.Size) switch
        {
            (H5DataTypeClass.FloatingPoint, 2) => ScalarType.Float16,
            (H5DataTypeClass.FloatingPoint, 4) => ScalarType.Float32,
            (H5DataTypeClass.FloatingPoint, 8) => ScalarType.Float64,
            (H5DataTypeClass.FixedPoint, 1) => t.FixedPoint.IsSigned ? ScalarType.Int8 : ScalarType.Byte,
            (H5DataTypeClass.FixedPoint, 2) when t.FixedPoint.IsSigned => ScalarType.Int16,
            (H5DataTypeClass.FixedPoint, 4) when t.FixedPoint.IsSigned => ScalarType.Int32,
            (H5DataTypeClass.FixedPoint, 8) when t.FixedPoint.IsSigned => ScalarType.Int64,
            (H5DataTypeClass.Enumerated, 1) => ScalarType.Bool,
            _ => throw new KerasFormatException(file, $"has an unsupported element type ({t.Class}, {t.Size} bytes).", layer, weight),
        };
    }
}
