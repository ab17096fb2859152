namespace Surgeon.IO;

/// <summary>
/// A window <c>[start, start + length)</c> of a seekable stream, with positions relative to the window. In
/// writable mode the window grows as data is written past its end. Lets PureHDF read an HDF5 file stored inside a
/// zip archive, or write one straight into it, without a temporary copy.
/// </summary>
internal sealed class SubStream : Stream
{
    private readonly Stream _base;
    private readonly long _start;
    private readonly bool _writable;
    private readonly bool _ownsBase;
    private long _length;
    private long _position;

    public SubStream(Stream baseStream, long start, long length, bool writable, bool ownsBase = false)
    {
        _base = baseStream;
        _start = start;
        _length = length;
        _writable = writable;
        _ownsBase = ownsBase;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsBase) _base.Dispose();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => _writable;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var available = Math.Max(0, _length - _position);
        if (available == 0) return 0;
        if (buffer.Length > available) buffer = buffer[..(int)available];
        _base.Position = _start + _position;
        var n = _base.Read(buffer);
        _position += n;
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (!_writable) throw new NotSupportedException("This window is read-only.");
        _base.Position = _start + _position;
        _base.Write(buffer);
        _position += buffer.Length;
        _length = Math.Max(_length, _position);
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override void SetLength(long value)
    {
        if (!_writable) throw new NotSupportedException("This window is read-only.");
        _length = value;
        if (_base.Length < _start + value) _base.SetLength(_start + value);
    }

    public override void Flush() => _base.Flush();
}
