using System.Diagnostics;
using System.Globalization;
using System.Text;
using static Surgeon.Benchmarks.BenchmarkSupport;

namespace Surgeon.Benchmarks;

/// <summary>Options of the <c>io</c> subcommand.</summary>
/// <param name="Repeat">Measured runs per operation.</param>
/// <param name="KeepDir">Folder to write the model files to and keep them in (null: a temporary folder, removed at the end).</param>
/// <param name="Check">Exit with 1 when a goal is missed.</param>
/// <param name="WarmJit">Warm the JIT in each child on a tiny model before timing (steady-state figures).</param>
internal sealed record IoOptions(int Repeat, string? KeepDir, bool Check, bool WarmJit);

/// <summary>
/// The <c>io</c> benchmark: load + save of a VGG16-sized model (138 M float32 parameters) against a plain copy of
/// the same file, each measurement in a fresh child process so that its peak RSS (VmHWM) is its own.
/// </summary>
internal static class IoBenchmark
{
    /// <summary>load + save must take at most this many times the copy of the same file.</summary>
    public const double MaxTimeRatio = 3.0;

    /// <summary>The peak RSS of a load + save must stay below this many times the file size.</summary>
    public const double MaxMemoryRatio = 2.0;

    private sealed record Case(string Label, string Op, string Input, string? OutputName, string Format);

    public static int Run(IoOptions options)
    {
        var keep = options.KeepDir is not null;
        var dir = Path.GetFullPath(options.KeepDir ?? Path.Combine(Path.GetTempPath(), $"surgeon-bench-{Guid.NewGuid():N}"));
        Directory.CreateDirectory(dir);
        try
        {
            var h5 = Path.Combine(dir, "vgg16.h5");
            var keras = Path.Combine(dir, "vgg16.keras");
            PrepareFiles(h5, keras);
            var h5Size = new FileInfo(h5).Length;
            var kerasSize = new FileInfo(keras).Length;
            Console.WriteLine($"Files: {h5} = {h5Size:N0} bytes ({Mb(h5Size)} MB), {keras} = {kerasSize:N0} bytes ({Mb(kerasSize)} MB)");

            Case[] cases =
            [
                new("copy .h5", "copy", h5, "copy.h5", "h5"),
                new("read+write .h5 (floor)", "readwrite", h5, "readwrite.h5", "h5"),
                new("mmap+write .h5 (floor)", "mapwrite", h5, "mapwrite.h5", "h5"),
                new("load .h5", "load", h5, null, "h5"),
                new("load+save .h5", "loadsave", h5, "resaved.h5", "h5"),
                new("load+save .h5 (2nd in process)", "loadsave-again", h5, "resaved2.h5", "h5"),
                new("copy .keras", "copy", keras, "copy.keras", "keras"),
                new("load .keras", "load", keras, null, "keras"),
                new("load+save .keras", "loadsave", keras, "resaved.keras", "keras"),
                new("load+save .keras (2nd in process)", "loadsave-again", keras, "resaved2.keras", "keras"),
            ];

            var loadBefore = LoadAverage();
            Console.WriteLine("Warm-up: one discarded run of each operation, so every measured run finds the input in the page cache (warm cache).");
            foreach (var c in cases) RunChild(c, dir, options.WarmJit);

            var results = cases.ToDictionary(c => c, _ => new List<ChildResult>());
            for (var r = 0; r < options.Repeat; r++)
            {
                Console.WriteLine($"Repeat {r + 1}/{options.Repeat}");
                foreach (var c in cases)
                {
                    var result = RunChild(c, dir, options.WarmJit);
                    results[c].Add(result);
                    var (first, second) = c.Op switch { "readwrite" => ("read", "write"), "mapwrite" => ("map", "write"), _ => ("load", "save") };
                    var phases = c.Op is "loadsave" or "loadsave-again" or "readwrite" or "mapwrite"
                        ? string.Create(CultureInfo.InvariantCulture, $"  ({first} {result.LoadSeconds:F3} s, {second} {result.SaveSeconds:F3} s)")
                        : "";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {c.Label,-34} {result.Seconds,7:F3} s  peak RSS {result.PeakRssKb / 1024.0,7:F0} MB{phases}"));
                }
            }
            Console.WriteLine($"Load average (1 min) before / after the runs: {loadBefore} / {LoadAverage()} on {Environment.ProcessorCount} cores (other work on the machine skews the figures).");
            return Report(options, cases, results, new Dictionary<string, long> { ["h5"] = h5Size, ["keras"] = kerasSize });
        }
        finally
        {
            foreach (var name in new[] { "copy.h5", "readwrite.h5", "mapwrite.h5", "resaved.h5", "copy.keras", "resaved.keras" })
            {
                File.Delete(Path.Combine(dir, name));
            }
            if (!keep)
            {
                Directory.Delete(dir, recursive: true);
                Console.WriteLine($"Removed {dir}.");
            }
        }
    }

    /// <summary>Builds VGG16 with fresh weights and writes it with our own writers, unless kept files exist.</summary>
    private static void PrepareFiles(string h5, string keras)
    {
        if (File.Exists(h5) && File.Exists(keras))
        {
            Console.WriteLine($"Reusing {h5} and {keras} (delete them to regenerate).");
            return;
        }
        var watch = Stopwatch.StartNew();
        using var model = KerasFile.CreateFromArchitecture(Vgg16.ArchitectureJson(), seed: 1);
        if (model.ParameterCount != Vgg16.ParameterCount)
            throw new InvalidOperationException($"VGG16 has {model.ParameterCount:N0} parameters, expected {Vgg16.ParameterCount:N0}.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Built {model} with fresh weights in {watch.Elapsed.TotalSeconds:F1} s."));
        watch.Restart();
        KerasFile.Save(model, h5);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Wrote {h5} in {watch.Elapsed.TotalSeconds:F1} s."));
        watch.Restart();
        KerasFile.Save(model, keras);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Wrote {keras} in {watch.Elapsed.TotalSeconds:F1} s."));
    }

    /// <summary>Runs one operation in a fresh child process, after flushing dirty pages, and deletes its output.</summary>
    private static ChildResult RunChild(Case c, string dir, bool warmJit)
    {
        var output = c.OutputName is null ? null : Path.Combine(dir, c.OutputName);
        if (output is not null) File.Delete(output);
        Libc.Sync();
        string[] arguments = output is null ? [c.Op, c.Input] : [c.Op, c.Input, output];
        return Child.Spawn<ChildResult>(arguments, warmJit, c.Label, () =>
        {
            if (output is not null) File.Delete(output);
        });
    }

    private static int Report(IoOptions options, Case[] cases, Dictionary<Case, List<ChildResult>> results, Dictionary<string, long> sizes)
    {
        var inv = CultureInfo.InvariantCulture;
        var copyMedian = cases.Where(c => c.Op == "copy").ToDictionary(c => c.Format, c => Median(results[c].Select(r => r.Seconds)));
        var table = new StringBuilder();
        table.AppendLine("| operation | median s | ratio to copy | peak RSS MB | peak RSS / file size |");
        table.AppendLine("|---|---:|---:|---:|---:|");
        var failures = new List<string>();
        foreach (var c in cases)
        {
            var seconds = Median(results[c].Select(r => r.Seconds));
            var peak = Median(results[c].Select(r => (double)r.PeakRssKb)) * 1024;
            var ratio = seconds / copyMedian[c.Format];
            var memoryRatio = peak / sizes[c.Format];
            table.AppendLine(string.Create(inv, $"| {c.Label} | {seconds:F2} | {ratio:F1}x | {peak / (1 << 20):F0} | {memoryRatio:F2}x |"));
            if (c.Op is "loadsave" or "loadsave-again")
            {
                if (ratio > MaxTimeRatio) failures.Add(string.Create(inv, $"{c.Label} takes {ratio:F1}x the copy time (goal <= {MaxTimeRatio}x)"));
                if (memoryRatio >= MaxMemoryRatio) failures.Add(string.Create(inv, $"{c.Label} peaks at {memoryRatio:F2}x the file size (goal < {MaxMemoryRatio}x)"));
            }
        }

        Console.WriteLine();
        Console.WriteLine(string.Create(inv,
            $"VGG16, {Vgg16.ParameterCount:N0} float32 parameters; .h5 {sizes["h5"]:N0} bytes ({Mb(sizes["h5"])} MB), .keras {sizes["keras"]:N0} bytes ({Mb(sizes["keras"])} MB)."));
        Console.WriteLine(string.Create(inv,
            $"Median of {options.Repeat} runs, each in a fresh process{(options.WarmJit ? " with the JIT warmed on a tiny model" : " (cold JIT)")}; warm cache (input in the page cache, dirty pages synced before each run); peak RSS = VmHWM of the child, process baseline included."));
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine();

        Console.WriteLine("Details (medians):");
        foreach (var c in cases.Where(c => c.Op is "load" or "loadsave" or "loadsave-again"))
        {
            var rs = results[c];
            var times = string.Create(inv,
                $"load {Median(rs.Select(r => r.LoadSeconds)):F2} s, save {Median(rs.Select(r => r.SaveSeconds)):F2} s, min/max {rs.Min(r => r.Seconds):F2}/{rs.Max(r => r.Seconds):F2} s");
            var memory = string.Create(inv,
                $"RSS before {MedianMb(rs, r => r.BaselineRssKb)} MB, after load {MedianMb(rs, r => r.AfterLoadRssKb)} MB (anon {MedianMb(rs, r => r.AfterLoadAnonKb)}, file {MedianMb(rs, r => r.AfterLoadFileKb)})");
            Console.WriteLine($"  {c.Label,-34} {times}; {memory}");
        }
        foreach (var c in cases.Where(c => c.Op is "copy" or "readwrite" or "mapwrite"))
        {
            var rs = results[c];
            var phases = c.Op is "readwrite" or "mapwrite"
                ? string.Create(inv, $"{(c.Op == "readwrite" ? "read" : "map")} {Median(rs.Select(r => r.LoadSeconds)):F2} s, write {Median(rs.Select(r => r.SaveSeconds)):F2} s, ")
                : "";
            Console.WriteLine(string.Create(inv,
                $"  {c.Label,-34} {phases}min/max {rs.Min(r => r.Seconds):F2}/{rs.Max(r => r.Seconds):F2} s, {sizes[c.Format] / Median(rs.Select(r => r.Seconds)) / (1 << 20):F0} MB/s"));
        }
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"Goals: load+save <= {MaxTimeRatio}x copy time; peak RSS < {MaxMemoryRatio}x file size."));
        return Conclude(failures, options.Check);
    }

    private static string MedianMb(List<ChildResult> results, Func<ChildResult, long> kb) =>
        (Median(results.Select(r => (double)kb(r))) / 1024).ToString("F0", CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => (bytes / (double)(1 << 20)).ToString("F0", CultureInfo.InvariantCulture);
}
