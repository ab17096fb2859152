namespace Surgeon.Benchmarks;

/// <summary>Statistics and reporting shared by the benchmarks.</summary>
internal static class BenchmarkSupport
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The 1-minute load average.</summary>
    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    /// <summary>Prints whether the goals were met; the exit code is 1 for a miss only under <c>--check</c>.</summary>
    public static int Conclude(List<string> failures, bool check)
    {
        if (failures.Count == 0)
        {
            Console.WriteLine("All goals met.");
            return 0;
        }
        foreach (var f in failures) Console.WriteLine("MISSED: " + f);
        return check ? 1 : 0;
    }
}
