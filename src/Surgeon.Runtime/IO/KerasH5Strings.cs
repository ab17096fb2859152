using System.Collections;
using System.Reflection;
using PureHDF;

namespace Surgeon.IO;

/// <summary>
/// Writes HDF5 string attributes with the exact types h5py gives Keras files (per attribute: variable-length
/// NULLTERM ASCII or UTF-8, or fixed-length NULLPAD ASCII for split name lists).
/// </summary>
/// <remarks>
/// PureHDF 2.2's public API writes every string as variable-length NULLPAD UTF-8 (DatatypeMessage.Writing.cs), which
/// Keras reads fine but which differs from what Keras writes. PureHDF looks up a cache
/// (<c>NativeWriteContext.TypeToMessageMap</c>, keyed by CLR type, default string length and the attribute's
/// <see cref="H5OpaqueInfo"/>) before building a type message, so we pre-seed that cache with PureHDF's own string
/// messages re-flagged with the padding and character set we need, and tag each attribute with a marker opaque info.
/// This touches PureHDF internals: the version is pinned, <c>LegacyH5LayoutTests</c> checks the hook, and if the
/// internals are missing we fall back to the public API (<see cref="Exact"/> is then false) rather than fail.
/// </remarks>
internal sealed class KerasH5Strings
{
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
    private static readonly Internals? s_internals = Internals.TryCreate();
    private static readonly H5OpaqueInfo s_vlenAscii = new(0, "surgeon:vlen-ascii-nullterm");
    private readonly HashSet<int> _fixedLengths = new();
    private bool _vlenAscii;

    /// <summary>Whether exact Keras string types are written (false if PureHDF's internals changed).</summary>
    public static bool Exact => s_internals is not null;

    private static H5OpaqueInfo FixedMarker(int length) => new((uint)length, "surgeon:fixed-ascii-nullpad");

    /// <summary>A scalar variable-length string, ASCII (Python bytes) or UTF-8 (Python str).</summary>
    public object Scalar(string value, bool ascii)
    {
        if (!Exact) return value;
        if (ascii) _vlenAscii = true;
        return ascii
            ? new H5Attribute(new[] { value }, dimensions: Array.Empty<ulong>(), opaqueInfo: s_vlenAscii)
            : new H5Attribute(new[] { value }, dimensions: Array.Empty<ulong>());
    }

    /// <summary>A 1-D variable-length ASCII string array (what h5py 3 writes for a list of bytes).</summary>
    public object VlenAsciiArray(string[] values)
    {
        if (!Exact) return values;
        _vlenAscii = true;
        return new H5Attribute(values, dimensions: new[] { (ulong)values.Length }, opaqueInfo: s_vlenAscii);
    }

    /// <summary>A 1-D fixed-length NULLPAD ASCII array, as numpy <c>S&lt;n&gt;</c> arrays are written.</summary>
    public object FixedAsciiArray(string[] values)
    {
        if (!Exact) return values;
        var length = Math.Max(1, values.Length == 0 ? 1 : values.Max(v => System.Text.Encoding.UTF8.GetByteCount(v)));
        _fixedLengths.Add(length);
        return new H5Attribute(values, dimensions: new[] { (ulong)values.Length }, opaqueInfo: FixedMarker(length));
    }

    /// <summary>
    /// Writes <paramref name="file"/> to the new file <paramref name="path"/> (a fresh temporary file: creating rather
    /// than truncating spares ext4's flush-on-close of truncated files) with the string types registered here.
    /// </summary>
    public void Write(H5File file, string path)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        Write(file, stream);
    }

    /// <summary>Writes <paramref name="file"/> into a readable, writable, seekable stream (left open).</summary>
    public void Write(H5File file, Stream stream)
    {
        // Contiguous datasets (PureHDF's default compact layout would store small weights inside object headers).
        var options = new H5WriteOptions(PreferCompactDatasetLayout: false);
        if (s_internals is null) file.Write(stream, options);
        else s_internals.Write(file, stream, options, this);
    }

    /// <summary>The reflected PureHDF members, resolved once.</summary>
    private sealed class Internals
    {
        private ConstructorInfo _writerCtor = null!;
        private PropertyInfo _context = null!;
        private MethodInfo _write = null!;
        private Type _keyType = null!;
        private Type _dataTypeMessage = null!;
        private Type _stringBits = null!;
        private Type _vlenBits = null!;
        private Type _padding = null!;
        private Type _charset = null!;
        private Type _vlenKind = null!;

        public static Internals? TryCreate()
        {
            try
            {
                var asm = typeof(H5File).Assembly;
                var writer = typeof(H5NativeWriter);
                var i = new Internals
                {
                    _writerCtor = writer.GetConstructor(Any, new[] { typeof(H5File), typeof(Stream), typeof(H5WriteOptions), typeof(bool) })!,
                    _context = writer.GetProperty("Context", Any)!,
                    _write = writer.GetMethod("Write", Any, Type.EmptyTypes)!,
                    _keyType = asm.GetType("PureHDF.VOL.Native.DatatypeCacheKey", true)!,
                    _dataTypeMessage = asm.GetType("PureHDF.VOL.Native.DatatypeMessage", true)!,
                    _stringBits = asm.GetType("PureHDF.VOL.Native.StringBitFieldDescription", true)!,
                    _vlenBits = asm.GetType("PureHDF.VOL.Native.VariableLengthBitFieldDescription", true)!,
                    _padding = asm.GetType("PureHDF.VOL.Native.PaddingType", true)!,
                    _charset = asm.GetType("PureHDF.VOL.Native.CharacterSetEncoding", true)!,
                    _vlenKind = asm.GetType("PureHDF.VOL.Native.InternalVariableLengthType", true)!,
                };
                return i._writerCtor is null || i._context is null || i._write is null ? null : i;
            }
            catch (Exception e) when (e is TypeLoadException or AmbiguousMatchException or NullReferenceException)
            {
                return null;
            }
        }

        public void Write(H5File file, Stream stream, H5WriteOptions options, KerasH5Strings strings)
        {
            var writer = (H5NativeWriter)_writerCtor.Invoke(new object[] { file, stream, options, true });
            try
            {
                var context = _context.GetValue(writer)!;
                var map = (IDictionary)context.GetType().GetProperty("TypeToMessageMap", Any)!.GetValue(context)!;
                map[Key(null)] = Vlen(context, ascii: false);
                if (strings._vlenAscii) map[Key(s_vlenAscii)] = Vlen(context, ascii: true);
                foreach (var length in strings._fixedLengths) map[Key(FixedMarker(length))] = Fixed(context, length);
                try
                {
                    _write.Invoke(writer, null);
                }
                catch (TargetInvocationException e) when (e.InnerException is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                }
            }
            finally
            {
                writer.Dispose(); // writes the global heap and the superblock
            }
        }

        private object Key(H5OpaqueInfo? marker) => Activator.CreateInstance(_keyType, typeof(string), 0, marker)!;

        private object Fixed(object context, int length)
        {
            var tuple = _dataTypeMessage.GetMethod("GetTypeInfoForFixedLengthString", Any)!.Invoke(null, new[] { context, length })!;
            var message = tuple.GetType().GetField("Item1")!.GetValue(tuple)!;
            var bits = Activator.CreateInstance(_stringBits, Enum.ToObject(_padding, 1 /* NullPad */), Enum.ToObject(_charset, 0 /* ASCII */))!;
            _dataTypeMessage.GetProperty("BitField", Any)!.SetValue(message, bits);
            return tuple;
        }

        private object Vlen(object context, bool ascii)
        {
            var tuple = _dataTypeMessage.GetMethod("GetTypeInfoForVariableLengthString", Any)!.Invoke(null, new[] { context })!;
            var message = tuple.GetType().GetField("Item1")!.GetValue(tuple)!;
            var bits = Activator.CreateInstance(_vlenBits, Enum.ToObject(_vlenKind, 1 /* String */),
                Enum.ToObject(_padding, 0 /* NullTerminate */), Enum.ToObject(_charset, ascii ? 0 : 1))!;
            _dataTypeMessage.GetProperty("BitField", Any)!.SetValue(message, bits);
            return tuple;
        }
    }
}
