using System.Reflection;
using PureHDF;

namespace Surgeon.IO;

/// <summary>
/// Type facts PureHDF 2.2 parses but does not expose publicly (byte order). Read through its internal datatype
/// message; if that internal shape ever changes, the answer falls back to "little-endian", which every Keras writer
/// uses, and <c>LegacyH5LayoutTests.PureHdfInternals_ByteOrderProbeIsAvailable</c> fails so that the fallback is noticed.
/// </summary>
internal static class Hdf5Types
{
    private static readonly FieldInfo? s_dataTypeField =
        Type.GetType("PureHDF.VOL.Native.NativeDataType, PureHDF")?.GetField("_dataType", BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>Whether the internal accessor is still available (checked by a test).</summary>
    internal static bool CanInspectByteOrder => s_dataTypeField is not null;

    public static bool IsBigEndian(IH5DataType type)
    {
        if (type.Class is not (H5DataTypeClass.FixedPoint or H5DataTypeClass.FloatingPoint) || s_dataTypeField is null) return false;
        var message = s_dataTypeField.GetValue(type);
        var bitField = message?.GetType().GetProperty("BitField", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(message);
        var order = bitField?.GetType().GetProperty("ByteOrder", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(bitField);
        return order?.ToString() == "BigEndian";
    }
}
