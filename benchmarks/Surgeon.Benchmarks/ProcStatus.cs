using System.Globalization;
using System.Runtime.InteropServices;

namespace Surgeon.Benchmarks;

/// <summary>Memory figures of the current process from <c>/proc/self/status</c> (Linux), in KiB.</summary>
internal readonly record struct ProcStatus(long PeakRssKb, long RssKb, long RssAnonKb, long RssFileKb)
{
    /// <summary>Reads <c>VmHWM</c> (peak resident set size), <c>VmRSS</c>, <c>RssAnon</c> and <c>RssFile</c>.</summary>
    public static ProcStatus Read()
    {
        long hwm = 0, rss = 0, anon = 0, file = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = Kb(line);
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kb(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Kb(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Kb(line);
        }
        return new ProcStatus(hwm, rss, anon, file);
    }

    private static long Kb(string line)
    {
        // "VmHWM:\t  123456 kB"
        var value = line[(line.IndexOf(':') + 1)..].Trim();
        return long.Parse(value[..value.IndexOf(' ')], NumberStyles.None, CultureInfo.InvariantCulture);
    }
}

/// <summary>libc calls the harness needs.</summary>
internal static partial class Libc
{
    /// <summary>Flushes every dirty page to disk, so write-back of one run does not slow down the next.</summary>
    [LibraryImport("libc", EntryPoint = "sync")]
    public static partial void Sync();

    /// <summary>Gives free heap memory back to the kernel (glibc), so the next allocations fault in fresh pages.</summary>
    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    public static partial int MallocTrim(nuint pad);
}
