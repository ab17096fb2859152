using System.Text;

namespace Surgeon.ArchitectureTool;

internal static class OutputFile
{
    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>
    /// Writes <paramref name="text"/> to <paramref name="path"/> (UTF-8, no BOM) unless the file already holds exactly
    /// that text; returns whether it wrote. The write goes to a temporary file beside the target, renamed over it, so a
    /// compiler reading the old file never sees half a new one.
    /// </summary>
    public static bool WriteIfChanged(string path, string text)
    {
        var bytes = s_utf8.GetBytes(text);
        if (File.Exists(path) && new FileInfo(path).Length == bytes.Length && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            return false;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
        return true;
    }
}
