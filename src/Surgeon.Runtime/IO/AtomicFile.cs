namespace Surgeon.IO;

/// <summary>Writes a file through a temporary sibling and a rename, so readers never see a partial file.</summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<string> writeTemp)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) throw new KerasFormatException(path, "cannot be written: its folder does not exist.");
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTemp(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KerasFormatException(path, $"cannot be written: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is not SurgeonException and not OutOfMemoryException and not OperationCanceledException)
        {
            // A failure inside the HDF5/zip writers (PureHDF throws plain exceptions): say which file, keep the cause.
            throw new KerasFormatException(path, $"cannot be written ({e.GetType().Name}: {e.Message})", inner: e);
        }
        finally
        {
            if (File.Exists(temp))
            {
                try { File.Delete(temp); } catch (IOException) { }
            }
        }
    }
}
