using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Surgeon.Tensors;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>NumPy <c>.npy</c> files (format 1.0-3.0): read into tensors and written from tensors, C order.</summary>
public static partial class NpyFile
{
    private static readonly byte[] s_magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Reads an .npy file into a new CPU tensor (float16/32/64, int8/16/32/64, uint8, bool; little or big endian).</summary>
    /// <exception cref="SurgeonException">The file is not a readable .npy array; the message names it.</exception>
    public static Tensor Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SurgeonException($"'{path}': cannot be read: {e.Message}", e);
        }
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(s_magic))
            throw new SurgeonException($"'{path}': is not a NumPy .npy file.");
        var major = bytes[6];
        int headerLength, start;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            start = 10;
        }
        else
        {
            if (bytes.Length < 12) throw new SurgeonException($"'{path}': truncated .npy header.");
            headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
            start = 12;
        }
        if (start + headerLength > bytes.Length) throw new SurgeonException($"'{path}': truncated .npy header.");
        var header = Encoding.Latin1.GetString(bytes, start, headerLength);
        var descr = DescrRegex().Match(header);
        var order = FortranRegex().Match(header);
        var shapeMatch = ShapeRegex().Match(header);
        if (!descr.Success || !shapeMatch.Success) throw new SurgeonException($"'{path}': unreadable .npy header: {header.Trim()}");
        if (order.Success && order.Groups[1].Value == "True") throw new SurgeonException($"'{path}': Fortran-order arrays are not supported; save with order='C'.");
        var shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var d = descr.Groups[1].Value;
        var bigEndian = d[0] == '>';
        var (dtype, size) = d[1..] switch
        {
            "f2" => (ScalarType.Float16, 2),
            "f4" => (ScalarType.Float32, 4),
            "f8" => (ScalarType.Float64, 8),
            "i1" => (ScalarType.Int8, 1),
            "i2" => (ScalarType.Int16, 2),
            "i4" => (ScalarType.Int32, 4),
            "i8" => (ScalarType.Int64, 8),
            "u1" => (ScalarType.Byte, 1),
            "b1" => (ScalarType.Bool, 1),
            _ => throw new SurgeonException($"'{path}': unsupported .npy dtype '{d}'."),
        };
        var count = shape.Aggregate(1L, (a, b) => checked(a * b));
        var dataStart = start + headerLength;
        if (bytes.Length - dataStart < count * size) throw new SurgeonException($"'{path}': holds {bytes.Length - dataStart} data bytes, the header needs {count * size}.");
        var data = bytes.AsSpan(dataStart, (int)(count * size));
        if (bigEndian && size > 1)
        {
            data = data.ToArray();
            for (var i = 0; i < data.Length; i += size) data.Slice(i, size).Reverse();
        }
        return TensorBytes.FromBytes(data, dtype, shape);
    }

    /// <summary>Writes <paramref name="tensor"/> as an .npy file (format 1.0, C order, little endian); atomically.</summary>
    public static void Write(string path, Tensor tensor)
    {
        var descr = tensor.dtype switch
        {
            ScalarType.Float16 => "<f2",
            ScalarType.Float32 => "<f4",
            ScalarType.Float64 => "<f8",
            ScalarType.Int8 => "|i1",
            ScalarType.Int16 => "<i2",
            ScalarType.Int32 => "<i4",
            ScalarType.Int64 => "<i8",
            ScalarType.Byte => "|u1",
            ScalarType.Bool => "|b1",
            _ => throw new SurgeonException($"Cannot write dtype {tensor.dtype} to .npy."),
        };
        var shape = tensor.shape;
        var shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeText}, }}";
        var total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        var data = TensorBytes.ToArray(tensor);
        IO.AtomicFile.Write(path, temp =>
        {
            using var s = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
            s.Write(s_magic);
            s.WriteByte(1);
            s.WriteByte(0);
            Span<byte> length = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
            s.Write(length);
            s.Write(Encoding.Latin1.GetBytes(header));
            s.Write(data);
        });
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([<>|=][a-z]\d+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
