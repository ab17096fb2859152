using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using static Surgeon.Benchmarks.BenchmarkSupport;

namespace Surgeon.Benchmarks;

/// <summary>Options of the <c>surgery</c> subcommand.</summary>
/// <param name="Repeat">Measured runs per operation and network.</param>
/// <param name="Check">Exit with 1 when a goal is missed.</param>
/// <param name="WarmJit">In each child, run the same operation once untimed first (steady state, JIT excluded).</param>
/// <param name="Networks">Networks to run (null: VGG16 and ResNet50).</param>
/// <param name="Scattered">Delete every 4th channel (as APoZ or norm criteria pick them) instead of the first 25%.</param>
internal sealed record SurgeryOptions(int Repeat, bool Check, bool WarmJit, IReadOnlyList<string>? Networks, bool Scattered = false);

/// <summary>
/// The <c>surgery</c> benchmark: one <see cref="ModelSurgeon"/> deleting 25% of the channels of every Conv2D and Dense
/// (the output Dense excepted) of VGG16 and ResNet50, against one in-memory copy of every weight tensor (the floor).
/// Each measurement runs in a fresh child process so that its peak RSS (VmHWM) is its own.
/// </summary>
internal static class SurgeryBenchmark
{
    /// <summary>The surgery must take at most this many times the copy of all weights.</summary>
    public const double MaxTimeRatio = 1.5;

    /// <summary>The peak RSS added by the surgery (above the loaded model) must stay at or below this many times the model's weight bytes.</summary>
    public const double MaxMemoryRatio = 2.2;

    /// <summary>Share of the channels deleted from every Conv2D and Dense.</summary>
    public const double Fraction = 0.25;

    public static readonly string[] AllNetworks = ["VGG16", "ResNet50"];

    public static int Run(SurgeryOptions options)
    {
        IReadOnlyList<string> requested = options.Networks ?? AllNetworks;
        var unknown = requested.Where(n => !AllNetworks.Contains(n, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (unknown.Length > 0)
        {
            Console.Error.WriteLine($"Unknown network(s) {string.Join(", ", unknown)}; known: {string.Join(", ", AllNetworks)}.");
            return 2;
        }
        var networks = AllNetworks.Where(n => requested.Contains(n, StringComparer.OrdinalIgnoreCase)).ToArray();
        var cases = networks.SelectMany(n => new[] { (Network: n, Op: "copy"), (Network: n, Op: "surgery") }).ToArray();
        var loadBefore = LoadAverage();
        var results = cases.ToDictionary(c => c, _ => new List<SurgeryChildResult>());
        for (var r = 0; r < options.Repeat; r++)
        {
            Console.WriteLine($"Repeat {r + 1}/{options.Repeat}");
            foreach (var c in cases)
            {
                var result = RunChild(c.Network, c.Op, options.WarmJit, options.Scattered);
                results[c].Add(result);
                var phases = c.Op == "surgery"
                    ? string.Create(CultureInfo.InvariantCulture, $"  (add jobs {result.AddSeconds:F3} s, Operate {result.OperateSeconds:F3} s; {result.Jobs} jobs, {result.ParametersAfter:N0} parameters after)")
                    : "";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {c.Network,-8} {c.Op,-8} {result.Seconds,7:F3} s  peak RSS above model {(result.PeakRssKb - result.BaselineRssKb) / 1024.0,6:F0} MB{phases}"));
                if (result.Note.Length > 0) Console.WriteLine("    " + result.Note);
            }
        }
        Console.WriteLine($"Load average (1 min) before / after the runs: {loadBefore} / {LoadAverage()} on {Environment.ProcessorCount} cores.");
        return Report(options, networks, results);
    }

    private static SurgeryChildResult RunChild(string network, string op, bool warmJit, bool scattered) =>
        Child.Spawn<SurgeryChildResult>(["surgery-" + op, network, scattered ? "scattered" : "leading"], warmJit, $"{network} {op}");

    private static int Report(SurgeryOptions options, string[] networks, Dictionary<(string Network, string Op), List<SurgeryChildResult>> results)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new StringBuilder();
        table.AppendLine("| network | weights MB | operation | median s | ratio to copy | peak RSS above model MB | / weight bytes | (model + above) / weight bytes |");
        table.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|");
        var failures = new List<string>();
        var details = new List<string>();
        foreach (var network in networks)
        {
            var copy = Median(results[(network, "copy")].Select(r => r.Seconds));
            foreach (var op in new[] { "copy", "surgery" })
            {
                var rs = results[(network, op)];
                var bytes = rs[0].WeightBytes;
                var seconds = Median(rs.Select(r => r.Seconds));
                var peak = Median(rs.Select(r => (double)(r.PeakRssKb - r.BaselineRssKb))) * 1024;
                var ratio = seconds / copy;
                var memoryRatio = peak / bytes;
                table.AppendLine(string.Create(inv,
                    $"| {network} | {bytes / (double)(1 << 20):F0} | {op} | {seconds:F3} | {ratio:F2}x | {peak / (1 << 20):F0} | {memoryRatio:F2}x | {1 + memoryRatio:F2}x |"));
                if (op == "surgery")
                {
                    if (ratio > MaxTimeRatio) failures.Add(string.Create(inv, $"{network}: surgery takes {ratio:F2}x the copy (goal <= {MaxTimeRatio}x)"));
                    if (memoryRatio > MaxMemoryRatio) failures.Add(string.Create(inv, $"{network}: surgery peaks at {memoryRatio:F2}x the weight bytes above the model (goal <= {MaxMemoryRatio}x)"));
                    details.Add(string.Create(inv,
                        $"  {network}: add jobs {Median(rs.Select(r => r.AddSeconds)):F3} s, Operate {Median(rs.Select(r => r.OperateSeconds)):F3} s, min/max {rs.Min(r => r.Seconds):F3}/{rs.Max(r => r.Seconds):F3} s; {rs[0].Jobs} jobs, parameters {rs[0].ParametersBefore:N0} -> {rs[0].ParametersAfter:N0}; RSS with model {Median(rs.Select(r => (double)r.BaselineRssKb)) / 1024:F0} MB{(rs[0].Note.Length > 0 ? "; " + rs[0].Note : "")}"));
                }
                else
                {
                    details.Add(string.Create(inv,
                        $"  {network} copy: min/max {rs.Min(r => r.Seconds):F3}/{rs.Max(r => r.Seconds):F3} s, {bytes / seconds / (1 << 20):F0} MB/s"));
                }
            }
        }
        Console.WriteLine();
        Console.WriteLine(string.Create(inv,
            $"Median of {options.Repeat} runs, each in a fresh process{(options.WarmJit ? " after one untimed run of the same operation (warm JIT)" : " (cold JIT)")}; {Fraction:P0} of the channels ({(options.Scattered ? "every 4th" : "the first ones")}) deleted from every Conv2D and Dense but the output layer. Peak RSS above model = VmHWM (reset after the model was built) minus VmRSS after the model was built."));
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine();
        Console.WriteLine("Details (medians):");
        foreach (var d in details) Console.WriteLine(d);
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"Goals: surgery <= {MaxTimeRatio}x copy time; peak RSS above the model <= {MaxMemoryRatio}x the weight bytes."));
        return Conclude(failures, options.Check);
    }

    /// <summary>Builds the network with fresh weights (seed 1), outside any timed region.</summary>
    public static KerasModel Create(string network) => network.ToUpperInvariant() switch
    {
        "VGG16" => KerasFile.CreateFromArchitecture(Vgg16.ArchitectureJson(), seed: 1),
        "RESNET50" => KerasFile.CreateFromArchitecture(ResNet50.ArchitectureJson(), seed: 1),
        _ => throw new ArgumentException($"unknown network '{network}'"),
    };

    /// <summary>
    /// The jobs: 25% of the output channels of every Conv2D and Dense that is not a model output: the first ones, or
    /// (<paramref name="scattered"/>) every 4th.
    /// </summary>
    public static List<(string Layer, int[] Channels)> Jobs(KerasModel model, bool scattered = false)
    {
        var outputs = model.Outputs.Select(o => o.Layer).ToHashSet(StringComparer.Ordinal);
        var jobs = new List<(string, int[])>();
        foreach (var layer in model.Layers)
        {
            if (layer.ClassName is not ("Conv2D" or "Dense") || outputs.Contains(layer.Name)) continue;
            var count = (int)(layer.FindWeight("kernel") ?? throw new InvalidOperationException($"{layer.Name} has no kernel")).Value.shape[^1];
            var n = (int)(count * Fraction);
            jobs.Add((layer.Name, scattered ? Enumerable.Range(0, n).Select(i => i * 4).ToArray() : Enumerable.Range(0, n).ToArray()));
        }
        return jobs;
    }
}

/// <summary>What one <c>surgery</c> child measured. Times in seconds, memory in KiB.</summary>
/// <param name="Seconds">Wall time of the operation alone (model creation excluded).</param>
/// <param name="AddSeconds">Surgery: constructing the <see cref="ModelSurgeon"/> and adding every job.</param>
/// <param name="OperateSeconds">Surgery: <see cref="ModelSurgeon.Operate"/>.</param>
/// <param name="PeakRssKb">VmHWM at the end; reset (clear_refs 5) after the model was built.</param>
/// <param name="BaselineRssKb">VmRSS after the model was built (and malloc_trim), just before the operation.</param>
/// <param name="WeightBytes">The model's ParameterCount x 4.</param>
internal sealed record SurgeryChildResult(
    string Op,
    double Seconds,
    double AddSeconds,
    double OperateSeconds,
    long PeakRssKb,
    long BaselineRssKb,
    long WeightBytes,
    int Jobs,
    long ParametersBefore,
    long ParametersAfter,
    string Note);

/// <summary>The child side of the <c>surgery</c> benchmark.</summary>
internal static class SurgeryChild
{
    /// <summary><c>__child surgery-copy|surgery-surgery NETWORK leading|scattered</c>.</summary>
    public static int Run(string op, string network, bool scattered)
    {
        using (var warm = TorchSharp.torch.zeros(1)) { }
        using var model = SurgeryBenchmark.Create(network);
        var jobs = SurgeryBenchmark.Jobs(model, scattered);
        var warmJit = Environment.GetEnvironmentVariable(Child.WarmJitVariable) == "1";
        if (warmJit) Measure(op, model, jobs, note: null);
        Libc.MallocTrim(0);
        var note = new StringBuilder();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5"); // reset VmHWM to the current RSS
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            note.Append("VmHWM could not be reset (peak includes model creation); ");
        }
        var result = Measure(op, model, jobs, note);
        Console.Out.WriteLine(Child.ResultPrefix + JsonSerializer.Serialize(result));
        return 0;
    }

    private static SurgeryChildResult Measure(string op, KerasModel model, List<(string Layer, int[] Channels)> jobs, StringBuilder? note)
    {
        var before = ProcStatus.Read();
        var weightBytes = model.ParameterCount * 4;
        if (op == "surgery-copy")
        {
            var clones = new List<TorchSharp.torch.Tensor>();
            var watch = Stopwatch.StartNew();
            foreach (var (_, w) in model.AllWeights()) clones.Add(w.Value.clone());
            var seconds = watch.Elapsed.TotalSeconds;
            var end = ProcStatus.Read();
            foreach (var c in clones) c.Dispose();
            return new SurgeryChildResult(op, seconds, 0, seconds, end.PeakRssKb, before.RssKb, weightBytes, 0, model.ParameterCount, model.ParameterCount, note?.ToString().TrimEnd(' ', ';') ?? "");
        }
        if (op != "surgery-surgery") throw new ArgumentException($"unknown child operation '{op}'");
        var timer = Stopwatch.StartNew();
        var surgeon = new ModelSurgeon(model);
        foreach (var (layer, channels) in jobs) surgeon.DeleteChannels(layer, channels);
        var addSeconds = timer.Elapsed.TotalSeconds;
        var result = surgeon.Operate();
        var total = timer.Elapsed.TotalSeconds;
        var after = ProcStatus.Read();
        var parametersAfter = result.Model.ParameterCount;
        if (note is not null)
        {
            note.Append(string.Create(CultureInfo.InvariantCulture,
                $"{result.ChangedLayers.Count} layers changed, {result.CoupledLayers.Count} coupled, {result.InexactLayers.Count} inexact; "));
        }
        result.Dispose();
        return new SurgeryChildResult(op, total, addSeconds, total - addSeconds, after.PeakRssKb, before.RssKb, weightBytes, jobs.Count,
            model.ParameterCount, parametersAfter, note?.ToString().TrimEnd(' ', ';') ?? "");
    }
}
