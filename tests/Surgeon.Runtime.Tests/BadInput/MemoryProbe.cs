using System.Text.RegularExpressions;

namespace Surgeon.Runtime.Tests.BadInput;

/// <summary>
/// Measures how much memory an action takes: managed bytes allocated (process-wide, so run it where no other test
/// runs concurrently) and the growth of the process's peak resident set, which also sees native (libtorch) memory.
/// The peak is reset through Linux's <c>/proc/self/clear_refs</c>; elsewhere it is reported as null.
/// </summary>
internal static class MemoryProbe
{
    public static (long ManagedBytes, long? PeakRssGrowth) Measure(Action action)
    {
        var baseline = ResetPeakRss();
        var managedBefore = GC.GetTotalAllocatedBytes(precise: true);
        action();
        var managed = GC.GetTotalAllocatedBytes(precise: true) - managedBefore;
        var peak = ReadStatusKb("VmHWM");
        return (managed, baseline is null || peak is null ? null : peak - baseline);
    }

    /// <summary>Resets VmHWM to the current resident set; returns that resident set in bytes, or null if unsupported.</summary>
    private static long? ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
        return ReadStatusKb("VmHWM");
    }

    private static long? ReadStatusKb(string key)
    {
        try
        {
            var m = Regex.Match(File.ReadAllText("/proc/self/status"), key + @":\s+(\d+) kB");
            return m.Success ? long.Parse(m.Groups[1].Value) * 1024 : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
