namespace Surgeon.IO;

/// <summary>What a path holds, judged from its content (never from its extension).</summary>
internal enum ContentKind
{
    Hdf5,
    Zip,
    Json,
    Unknown,
}

internal static class FormatDetector
{
    private static ReadOnlySpan<byte> Hdf5Magic => new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a };

    /// <summary>Resolves a folder (TensorFlow.js model, or a folder holding one model file) to the file to read.</summary>
    public static string ResolveFile(string path)
    {
        if (File.Exists(path)) return path;
        if (Directory.Exists(path))
        {
            var modelJson = Path.Combine(path, "model.json");
            if (File.Exists(modelJson)) return modelJson;
            var files = Directory.GetFiles(path);
            if (files.Length == 1) return files[0];
            throw new KerasFormatException(path, "is a folder without a model.json; name the model file inside it.");
        }
        throw new KerasFormatException(path, "does not exist.");
    }

    public static ContentKind Detect(string file)
    {
        Span<byte> head = stackalloc byte[8];
        int read;
        try
        {
            using var s = File.OpenRead(file);
            if (s.Length == 0) throw new KerasFormatException(file, "is empty (0 bytes).");
            read = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (read < 8 && head[..read].SequenceEqual(Hdf5Magic[..read]))
                throw new KerasFormatException(file, $"is truncated: it holds only {read} bytes of an HDF5 signature.");
            // HDF5 allows a user block: the superblock may also start at 512, 1024, 2048, ...
            if (read == 8 && head.SequenceEqual(Hdf5Magic)) return ContentKind.Hdf5;
            for (long at = 512; at + 8 <= s.Length && at <= 1 << 20; at *= 2)
            {
                s.Position = at;
                if (s.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8 && head.SequenceEqual(Hdf5Magic)) return ContentKind.Hdf5;
            }
            s.Position = 0;
            read = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (IOException e)
        {
            throw new KerasFormatException(file, $"cannot be read: {e.Message}", inner: e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KerasFormatException(file, $"cannot be read: {e.Message}", inner: e);
        }
        if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4) return ContentKind.Zip;
        var i = 0;
        if (read >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) i = 3; // UTF-8 BOM
        while (i < read && head[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') i++;
        if (i < read && head[i] == (byte)'{') return ContentKind.Json;
        return ContentKind.Unknown;
    }
}
