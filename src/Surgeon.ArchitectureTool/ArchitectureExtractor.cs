using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using PureHDF;

namespace Surgeon.ArchitectureTool;

/// <summary>
/// Reads the architecture JSON stored in a Keras model file, judged by content (not by extension):
/// <list type="bullet">
/// <item>legacy HDF5 (<c>model.save("x.h5")</c>, Keras 1/2, tf.keras, Keras 3): the root attribute <c>model_config</c>
/// verbatim, with <c>keras_version</c> (root attribute, else that of <c>model_weights</c>) added when it lacks one;</item>
/// <item>Keras 3 <c>.keras</c> archive: the entry <c>config.json</c> verbatim, with <c>keras_version</c> from
/// <c>metadata.json</c> added when it lacks one;</item>
/// <item>an architecture JSON (<c>model.to_json()</c>, TensorFlow.js <c>model.json</c>): the file verbatim.</item>
/// </list>
/// The key is added at the end of the top-level object, so every line and column of the stored text stays where it was
/// (the generator's SRG004 positions then point into the original config). The JSON is not otherwise checked here: the
/// generator reports a malformed architecture as SRG004 with its position.
/// </summary>
internal static class ArchitectureExtractor
{
    /// <summary>Largest architecture we read; Keras's largest configs are a few MB.</summary>
    public const long MaxJsonBytes = 256L << 20;

    private static ReadOnlySpan<byte> Hdf5Signature => new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a };

    public static string Extract(string modelPath)
    {
        if (Directory.Exists(modelPath))
            throw new ExtractionException(ExtractionException.Unreadable, "is a folder; name the model file (a TensorFlow.js model's model.json) instead.");
        if (!File.Exists(modelPath))
            throw new ExtractionException(ExtractionException.NotFound, "does not exist (it is listed as a SurgeonModel item of the project).");
        try
        {
            using var stream = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
            if (stream.Length == 0) throw Unreadable("is empty (0 bytes).");
            if (FindHdf5Superblock(stream) is { } superblock)
            {
                CheckSuperblock(stream, superblock);
                return FromHdf5(stream);
            }
            stream.Position = 0;
            Span<byte> head = stackalloc byte[4];
            var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) return FromKerasArchive(stream);
            if (LooksLikeJson(stream)) return ReadText(stream, "the file");
            throw Unreadable("is not a Keras model file (neither HDF5, a .keras zip archive, nor an architecture JSON).");
        }
        catch (ExtractionException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable($"cannot be read: {e.Message}", e);
        }
    }

    private static ExtractionException Unreadable(string message, Exception? inner = null) =>
        new(ExtractionException.Unreadable, message, inner);

    // ---- legacy HDF5 ----

    private static string FromHdf5(Stream stream)
    {
        stream.Position = 0;
        string config;
        string? version;
        try
        {
            using var file = H5File.Open(stream, leaveOpen: true);
            config = StringAttribute(file, "model_config")
                ?? throw Unreadable(file.LinkExists("model_weights") || file.AttributeExists("layer_names")
                    ? "is a Keras weights-only file (no 'model_config' attribute): name the model's architecture .json (model.to_json()) in the plan and list that file instead."
                    : "is an HDF5 file without a 'model_config' attribute: it is not a Keras model saved with model.save().");
            version = StringAttribute(file, "keras_version");
            if (version is null && file.LinkExists("model_weights")) version = StringAttribute(file.Group("model_weights"), "keras_version");
        }
        catch (ExtractionException)
        {
            throw;
        }
        catch (OutOfMemoryException e)
        {
            throw Unreadable("declares more data than can be allocated: the file is corrupt.", e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Unreadable($"is not a readable HDF5 file: it is truncated or corrupt ({e.GetType().Name}: {e.Message.TrimEnd('.')}).", e);
        }
        return WithKerasVersion(config, version);
    }

    /// <summary>A string attribute (fixed or variable length, scalar or one-element array), or null when absent.</summary>
    private static string? StringAttribute(IH5Object o, string name)
    {
        if (!o.AttributeExists(name)) return null;
        var a = o.Attribute(name);
        if (a.Type.Class is not (H5DataTypeClass.String or H5DataTypeClass.VariableLength))
            throw Unreadable($"has an attribute '{name}' that is not a string ({a.Type.Class}).");
        long count = 1;
        if (a.Space.Type == H5DataspaceType.Simple)
        {
            foreach (var d in a.Space.Dimensions)
            {
                if (d > (ulong)MaxJsonBytes || (count *= (long)d) > MaxJsonBytes)
                    throw Unreadable($"has an attribute '{name}' declaring dimensions [{string.Join(", ", a.Space.Dimensions)}]: the file is corrupt.");
            }
        }
        if (count * a.Type.Size > MaxJsonBytes)
            throw Unreadable($"has an attribute '{name}' declaring {count * a.Type.Size:N0} bytes: the file is corrupt.");
        var value = a.Space.Type == H5DataspaceType.Scalar ? a.Read<string>() : a.Read<string[]>().FirstOrDefault() ?? "";
        return value.TrimEnd('\0');
    }

    /// <summary>Where the HDF5 superblock starts: offset 0, or after a user block at 512, 1024, 2048, ...</summary>
    private static long? FindHdf5Superblock(Stream stream)
    {
        Span<byte> head = stackalloc byte[8];
        for (long at = 0; at + 8 <= stream.Length && at <= 1L << 30; at = at == 0 ? 512 : at * 2)
        {
            stream.Position = at;
            if (stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8 && head.SequenceEqual(Hdf5Signature)) return at;
        }
        stream.Position = 0;
        var n = stream.ReadAtLeast(head, 8, throwOnEndOfStream: false);
        if (n < 8 && n > 0 && head[..n].SequenceEqual(Hdf5Signature[..n]))
            throw Unreadable($"is truncated: it holds only {n} bytes of an HDF5 signature.");
        return null;
    }

    /// <summary>
    /// The end-of-file address the superblock records must fit in the file: a truncated file otherwise reads as zeros
    /// (PureHDF does not check), giving odd errors or a silently wrong config.
    /// </summary>
    private static void CheckSuperblock(Stream stream, long at)
    {
        var head = new byte[64];
        stream.Position = at;
        var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (n < 48) throw Unreadable($"is truncated: its HDF5 superblock is incomplete ({stream.Length:N0} bytes).");
        int sizeOfOffsets, baseAddressAt;
        switch (head[8])
        {
            case 0:
                sizeOfOffsets = head[13];
                baseAddressAt = 24;
                break;
            case 1:
                sizeOfOffsets = head[13];
                baseAddressAt = 28;
                break;
            case 2 or 3:
                sizeOfOffsets = head[9];
                baseAddressAt = 12;
                break;
            default:
                throw Unreadable($"has an unsupported HDF5 superblock version {head[8]}.");
        }
        if (sizeOfOffsets is not (4 or 8)) throw Unreadable($"has an HDF5 offset size of {sizeOfOffsets} bytes: it is corrupt.");
        if (n < baseAddressAt + 3 * sizeOfOffsets) throw Unreadable($"is truncated: its HDF5 superblock is incomplete ({stream.Length:N0} bytes).");
        ulong Address(int offset) => sizeOfOffsets == 8
            ? BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(offset))
            : BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(offset));
        var baseAddress = Address(baseAddressAt);
        var endOfFile = Address(baseAddressAt + 2 * sizeOfOffsets);
        var undefined = sizeOfOffsets == 8 ? ulong.MaxValue : uint.MaxValue;
        if (endOfFile == undefined) throw Unreadable("was not closed properly by its writer (undefined end-of-file address).");
        if (baseAddress > ulong.MaxValue - endOfFile || (ulong)stream.Length < baseAddress + endOfFile)
            throw Unreadable($"is truncated: its HDF5 header says {baseAddress + endOfFile:N0} bytes but the file has {stream.Length:N0}.");
    }

    // ---- Keras 3 .keras archive ----

    private static string FromKerasArchive(Stream stream)
    {
        stream.Position = 0;
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw Unreadable($"is not a valid .keras (zip) archive: {e.Message}", e);
        }
        using (zip)
        {
            try
            {
                var config = zip.GetEntry("config.json") ?? throw Unreadable("is a zip archive without a config.json entry: it is not a Keras 3 .keras model.");
                var text = ReadText(config, "config.json");
                string? version = null;
                if (zip.GetEntry("metadata.json") is { } metadataEntry)
                {
                    var metadata = ReadText(metadataEntry, "metadata.json");
                    try
                    {
                        using var doc = JsonDocument.Parse(metadata);
                        if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("keras_version", out var v) && v.ValueKind == JsonValueKind.String)
                            version = v.GetString();
                    }
                    catch (JsonException e)
                    {
                        throw Unreadable($"has a metadata.json that is not valid JSON ({e.Message})", e);
                    }
                }
                return WithKerasVersion(text, version);
            }
            catch (InvalidDataException e)
            {
                throw Unreadable($"is not a valid .keras (zip) archive: {e.Message}", e);
            }
        }
    }

    private static string ReadText(ZipArchiveEntry entry, string what)
    {
        if (entry.Length > MaxJsonBytes) throw Unreadable($"has a {what} of {entry.Length:N0} bytes, more than any Keras architecture: the archive is corrupt.");
        using var s = entry.Open();
        return ReadText(s, what);
    }

    private static string ReadText(Stream s, string what)
    {
        if (s.CanSeek)
        {
            if (s.Length > MaxJsonBytes) throw Unreadable($"is {s.Length:N0} bytes, more than any Keras architecture JSON.");
            s.Position = 0;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = s.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MaxJsonBytes) throw Unreadable($"has a {what} larger than {MaxJsonBytes:N0} bytes (a zip bomb or a corrupt archive).");
        }
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(buffer.GetBuffer(), 0, (int)buffer.Length).TrimStart('\uFEFF');
        }
        catch (DecoderFallbackException e)
        {
            throw Unreadable($"has a {what} that is not UTF-8 text.", e);
        }
    }

    private static bool LooksLikeJson(Stream stream)
    {
        stream.Position = 0;
        Span<byte> head = stackalloc byte[64];
        var n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var i = n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF ? 3 : 0;
        while (i < n && head[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return i < n && head[i] == '{';
    }

    // ---- the added keras_version ----

    /// <summary>
    /// <paramref name="json"/> with <c>"keras_version": version</c> appended to its top-level object, unless it has
    /// that key already, <paramref name="version"/> is null, or the text is not a well-nested object (left for the
    /// generator to report).
    /// </summary>
    public static string WithKerasVersion(string json, string? version)
    {
        if (version is null || !TopLevelObject(json, out var keys, out var closing) || keys.Contains("keras_version")) return json;
        var entry = "\"keras_version\": " + Quote(version);
        return json[..closing] + (keys.Count > 0 ? ", " : "") + entry + json[closing..];
    }

    /// <summary>
    /// Scans a JSON object's top level: its keys and the index of its closing brace. Strings and nesting are followed;
    /// everything else (numbers, Python's NaN and Infinity, which Keras writes) is skipped. False when the text does
    /// not start with an object that closes.
    /// </summary>
    private static bool TopLevelObject(string json, out HashSet<string> keys, out int closing)
    {
        keys = new HashSet<string>(StringComparer.Ordinal);
        closing = -1;
        var i = 0;
        while (i < json.Length && char.IsWhiteSpace(json[i])) i++;
        if (i >= json.Length || json[i] != '{') return false;
        var depth = 0;
        var expectKey = false;
        for (; i < json.Length; i++)
        {
            var c = json[i];
            switch (c)
            {
                case '"':
                    var start = i + 1;
                    for (i = start; i < json.Length && json[i] != '"'; i++)
                    {
                        if (json[i] == '\\') i++;
                    }
                    if (i >= json.Length) return false;
                    if (depth == 1 && expectKey)
                    {
                        keys.Add(json[start..i]);
                        expectKey = false;
                    }
                    break;
                case '{' or '[':
                    depth++;
                    expectKey = c == '{' && depth == 1;
                    break;
                case '}' or ']':
                    depth--;
                    if (depth < 0) return false;
                    if (depth == 0)
                    {
                        closing = i;
                        return c == '}';
                    }
                    break;
                case ',' when depth == 1:
                    expectKey = true;
                    break;
            }
        }
        return false;
    }

    private static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case < ' ': sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        return sb.Append('"').ToString();
    }
}
