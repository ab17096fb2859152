using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Surgeon.IO;

/// <summary>
/// The small part of the zip format Keras's <c>.keras</c> archives use: uncompressed ("stored") entries. The writer
/// streams a large entry straight into the archive (the HDF5 writer works inside a window of the archive file, then
/// the CRC and sizes are patched in), and the locator finds where a stored entry's bytes start so they can be read
/// in place. Zip64 records are written and read where sizes or offsets pass 4 GiB.
/// </summary>
internal static class StoredZip
{
    private const uint LocalHeader = 0x04034b50;
    private const uint CentralHeader = 0x02014b50;
    private const uint EndOfCentralDirectory = 0x06054b50;
    private const uint Zip64EndOfCentralDirectory = 0x06064b50;
    private const uint Zip64Locator = 0x07064b50;
    private const ushort Zip64ExtraId = 0x0001;
    private const ushort PaddingExtraId = 0x5353; // an unregistered id readers skip; becomes a zip64 extra when needed

    /// <summary>Where a stored entry's data lies in the archive.</summary>
    public readonly record struct Location(long DataOffset, long Size);

    /// <summary>Writes a zip of stored entries, in order.</summary>
    public sealed class Writer
    {
        private readonly Stream _stream;
        private readonly List<(string Name, uint Crc, long Size, long Offset)> _entries = new();
        private readonly (ushort Time, ushort Date) _stamp;

        public Writer(Stream stream)
        {
            _stream = stream;
            var now = DateTime.Now;
            _stamp = ((ushort)((now.Hour << 11) | (now.Minute << 5) | (now.Second / 2)), (ushort)(((now.Year - 1980) << 9) | (now.Month << 5) | now.Day));
        }

        /// <summary>Adds a small entry from memory.</summary>
        public void Add(string name, byte[] data) => Add(name, s => s.Write(data));

        /// <summary>
        /// Adds an entry whose bytes <paramref name="write"/> produces into a seekable window of the archive (it may
        /// seek and rewrite within its window, as an HDF5 writer does).
        /// </summary>
        public void Add(string name, Action<Stream> write)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            var headerOffset = _stream.Position;
            var header = new byte[30 + nameBytes.Length + 20];
            _stream.Write(header); // placeholder, patched below
            var dataStart = _stream.Position;
            var window = new SubStream(_stream, dataStart, 0, writable: true);
            write(window);
            var size = window.Length;

            _stream.Flush();
            var crcValue = Crc(dataStart, size);

            var zip64 = size >= uint.MaxValue;
            var h = header.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(h, LocalHeader);
            BinaryPrimitives.WriteUInt16LittleEndian(h[4..], (ushort)(zip64 ? 45 : 20));
            BinaryPrimitives.WriteUInt16LittleEndian(h[10..], _stamp.Time);
            BinaryPrimitives.WriteUInt16LittleEndian(h[12..], _stamp.Date);
            BinaryPrimitives.WriteUInt32LittleEndian(h[14..], crcValue);
            BinaryPrimitives.WriteUInt32LittleEndian(h[18..], zip64 ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[22..], zip64 ? uint.MaxValue : (uint)size);
            BinaryPrimitives.WriteUInt16LittleEndian(h[26..], (ushort)nameBytes.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(h[28..], 20);
            nameBytes.CopyTo(h[30..]);
            var extra = h[(30 + nameBytes.Length)..];
            BinaryPrimitives.WriteUInt16LittleEndian(extra, zip64 ? Zip64ExtraId : PaddingExtraId);
            BinaryPrimitives.WriteUInt16LittleEndian(extra[2..], 16);
            if (zip64)
            {
                BinaryPrimitives.WriteInt64LittleEndian(extra[4..], size);
                BinaryPrimitives.WriteInt64LittleEndian(extra[12..], size);
            }
            _stream.Position = headerOffset;
            _stream.Write(header);
            _stream.Position = dataStart + size;
            _entries.Add((name, crcValue, size, headerOffset));
        }

        /// <summary>
        /// CRC-32 of the entry just written. A file is mapped and hashed in place (no copy of the data through a
        /// buffer); other streams are read back.
        /// </summary>
        private unsafe uint Crc(long start, long size)
        {
            var crc = new Crc32();
            if (size > 0 && _stream is FileStream file)
            {
                // Mapped in 64 MB windows, so at most one window's pages count against the process's resident set.
                const long window = 64L << 20;
                using var map = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(file, null, 0,
                    System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
                for (long at = 0; at < size; at += window)
                {
                    var length = Math.Min(window, size - at);
                    using var view = map.CreateViewAccessor(start + at, length, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
                    byte* p = null;
                    view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
                    try
                    {
                        crc.Append(new ReadOnlySpan<byte>(p + view.PointerOffset, (int)length));
                    }
                    finally
                    {
                        view.SafeMemoryMappedViewHandle.ReleasePointer();
                    }
                }
                return crc.GetCurrentHashAsUInt32();
            }
            var buffer = new byte[1 << 20];
            _stream.Position = start;
            for (var left = size; left > 0;)
            {
                var n = _stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n <= 0) throw new IOException("The archive ended while its CRC was computed.");
                crc.Append(buffer.AsSpan(0, n));
                left -= n;
            }
            return crc.GetCurrentHashAsUInt32();
        }

        /// <summary>Writes the central directory and the end records.</summary>
        public void Finish()
        {
            var cdStart = _stream.Position;
            foreach (var (name, crc, size, offset) in _entries)
            {
                var nameBytes = Encoding.UTF8.GetBytes(name);
                var bigSize = size >= uint.MaxValue;
                var bigOffset = offset >= uint.MaxValue;
                var extraLength = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
                var e = new byte[46 + nameBytes.Length + (extraLength > 0 ? 4 + extraLength : 0)];
                var s = e.AsSpan();
                BinaryPrimitives.WriteUInt32LittleEndian(s, CentralHeader);
                BinaryPrimitives.WriteUInt16LittleEndian(s[4..], (3 << 8) | 45); // made by Unix, spec 4.5
                BinaryPrimitives.WriteUInt16LittleEndian(s[6..], (ushort)(extraLength > 0 ? 45 : 20));
                BinaryPrimitives.WriteUInt16LittleEndian(s[12..], _stamp.Time);
                BinaryPrimitives.WriteUInt16LittleEndian(s[14..], _stamp.Date);
                BinaryPrimitives.WriteUInt32LittleEndian(s[16..], crc);
                BinaryPrimitives.WriteUInt32LittleEndian(s[20..], bigSize ? uint.MaxValue : (uint)size);
                BinaryPrimitives.WriteUInt32LittleEndian(s[24..], bigSize ? uint.MaxValue : (uint)size);
                BinaryPrimitives.WriteUInt16LittleEndian(s[28..], (ushort)nameBytes.Length);
                BinaryPrimitives.WriteUInt16LittleEndian(s[30..], (ushort)(extraLength > 0 ? 4 + extraLength : 0));
                BinaryPrimitives.WriteUInt32LittleEndian(s[38..], 0x81A40000); // regular file, rw-r--r--
                BinaryPrimitives.WriteUInt32LittleEndian(s[42..], bigOffset ? uint.MaxValue : (uint)offset);
                nameBytes.CopyTo(s[46..]);
                if (extraLength > 0)
                {
                    var x = s[(46 + nameBytes.Length)..];
                    BinaryPrimitives.WriteUInt16LittleEndian(x, Zip64ExtraId);
                    BinaryPrimitives.WriteUInt16LittleEndian(x[2..], (ushort)extraLength);
                    var at = 4;
                    if (bigSize)
                    {
                        BinaryPrimitives.WriteInt64LittleEndian(x[at..], size);
                        BinaryPrimitives.WriteInt64LittleEndian(x[(at + 8)..], size);
                        at += 16;
                    }
                    if (bigOffset) BinaryPrimitives.WriteInt64LittleEndian(x[at..], offset);
                }
                _stream.Write(e);
            }
            var cdEnd = _stream.Position;
            var cdSize = cdEnd - cdStart;
            var needZip64 = cdStart >= uint.MaxValue || cdSize >= uint.MaxValue || _entries.Count >= ushort.MaxValue;
            if (needZip64)
            {
                var z = new byte[56 + 20];
                var s = z.AsSpan();
                BinaryPrimitives.WriteUInt32LittleEndian(s, Zip64EndOfCentralDirectory);
                BinaryPrimitives.WriteInt64LittleEndian(s[4..], 44);
                BinaryPrimitives.WriteUInt16LittleEndian(s[12..], (3 << 8) | 45);
                BinaryPrimitives.WriteUInt16LittleEndian(s[14..], 45);
                BinaryPrimitives.WriteInt64LittleEndian(s[24..], _entries.Count);
                BinaryPrimitives.WriteInt64LittleEndian(s[32..], _entries.Count);
                BinaryPrimitives.WriteInt64LittleEndian(s[40..], cdSize);
                BinaryPrimitives.WriteInt64LittleEndian(s[48..], cdStart);
                BinaryPrimitives.WriteUInt32LittleEndian(s[56..], Zip64Locator);
                BinaryPrimitives.WriteInt64LittleEndian(s[64..], cdEnd);
                BinaryPrimitives.WriteUInt32LittleEndian(s[72..], 1);
                _stream.Write(z);
            }
            var end = new byte[22];
            var t = end.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(t, EndOfCentralDirectory);
            BinaryPrimitives.WriteUInt16LittleEndian(t[8..], (ushort)Math.Min(_entries.Count, ushort.MaxValue));
            BinaryPrimitives.WriteUInt16LittleEndian(t[10..], (ushort)Math.Min(_entries.Count, ushort.MaxValue));
            BinaryPrimitives.WriteUInt32LittleEndian(t[12..], needZip64 ? uint.MaxValue : (uint)cdSize);
            BinaryPrimitives.WriteUInt32LittleEndian(t[16..], needZip64 ? uint.MaxValue : (uint)cdStart);
            _stream.Write(end);
            _stream.SetLength(_stream.Position);
        }
    }

    /// <summary>
    /// Where the data of the stored (uncompressed) entry <paramref name="name"/> starts, from the central directory
    /// and the entry's local header; null when the entry is absent, compressed, or the records are not understood.
    /// </summary>
    public static Location? Locate(Stream s, string name)
    {
        var length = s.Length;
        var tailLength = (int)Math.Min(length, 22 + 65535 + 20);
        var tail = new byte[tailLength];
        s.Position = length - tailLength;
        s.ReadExactly(tail);
        var eocd = -1;
        for (var i = tailLength - 22; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndOfCentralDirectory) { eocd = i; break; }
        }
        if (eocd < 0) return null;
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(eocd + 12));
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(eocd + 16));
        if ((cdOffset == uint.MaxValue || cdSize == uint.MaxValue) && eocd >= 20
            && BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(eocd - 20)) == Zip64Locator)
        {
            var recordOffset = BinaryPrimitives.ReadInt64LittleEndian(tail.AsSpan(eocd - 12));
            if (recordOffset < 0 || recordOffset + 56 > length) return null;
            var record = new byte[56];
            s.Position = recordOffset;
            s.ReadExactly(record);
            if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndOfCentralDirectory) return null;
            cdSize = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(40));
            cdOffset = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(48));
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset + cdSize > length || cdSize > 64L << 20) return null;
        var cd = new byte[cdSize];
        s.Position = cdOffset;
        s.ReadExactly(cd);
        var wanted = Encoding.UTF8.GetBytes(name);
        for (var at = 0; at + 46 <= cd.Length;)
        {
            var e = cd.AsSpan(at);
            if (BinaryPrimitives.ReadUInt32LittleEndian(e) != CentralHeader) return null;
            var method = BinaryPrimitives.ReadUInt16LittleEndian(e[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(e[20..]);
            long uncompressed = BinaryPrimitives.ReadUInt32LittleEndian(e[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(e[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(e[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(e[32..]);
            long headerOffset = BinaryPrimitives.ReadUInt32LittleEndian(e[42..]);
            if (46 + nameLength + extraLength > e.Length) return null;
            if (e.Slice(46, nameLength).SequenceEqual(wanted))
            {
                ReadZip64Extra(e.Slice(46 + nameLength, extraLength), ref uncompressed, ref compressed, ref headerOffset);
                if (method != 0 || compressed != uncompressed || headerOffset < 0 || headerOffset + 30 > length) return null;
                var local = new byte[30];
                s.Position = headerOffset;
                s.ReadExactly(local);
                if (BinaryPrimitives.ReadUInt32LittleEndian(local) != LocalHeader) return null;
                var dataOffset = headerOffset + 30 + BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(26)) + BinaryPrimitives.ReadUInt16LittleEndian(local.AsSpan(28));
                return dataOffset + uncompressed <= length ? new Location(dataOffset, uncompressed) : null;
            }
            at += 46 + nameLength + extraLength + commentLength;
        }
        return null;
    }

    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long uncompressed, ref long compressed, ref long offset)
    {
        while (extra.Length >= 4)
        {
            var id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            var size = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (4 + size > extra.Length) return;
            if (id == Zip64ExtraId)
            {
                var data = extra.Slice(4, size);
                var at = 0;
                if (uncompressed == uint.MaxValue && at + 8 <= data.Length) { uncompressed = BinaryPrimitives.ReadInt64LittleEndian(data[at..]); at += 8; }
                if (compressed == uint.MaxValue && at + 8 <= data.Length) { compressed = BinaryPrimitives.ReadInt64LittleEndian(data[at..]); at += 8; }
                if (offset == uint.MaxValue && at + 8 <= data.Length) offset = BinaryPrimitives.ReadInt64LittleEndian(data[at..]);
                return;
            }
            extra = extra[(4 + size)..];
        }
    }
}
