using System.Diagnostics;
using System.Globalization;
using System.Text;
using static TorchSharp.torch;
using static Surgeon.Benchmarks.BenchmarkSupport;

namespace Surgeon.Benchmarks;

/// <summary>Options of the <c>forward</c> subcommand.</summary>
/// <param name="Repeat">Measured runs per variant (null: each network's default).</param>
/// <param name="Check">Exit with 1 when a goal is missed.</param>
/// <param name="Networks">Networks to run, by name (null: all).</param>
/// <param name="Only">Time only this variant (ours, NCHW, channels_last, or an explain label), for a profiler; no table.</param>
/// <param name="Explain">Also time modules that imitate our operation sequences one difference at a time.</param>
internal sealed record ForwardOptions(int? Repeat, bool Check, IReadOnlyList<string>? Networks, string? Only = null, bool Explain = false);

/// <summary>
/// The <c>forward</c> benchmark: <see cref="ModelRunner.Predict(Tensor)"/> on a model built from Keras architecture
/// JSON against the same network written directly as a TorchSharp module, with the same weights, in one process.
/// </summary>
internal static class ForwardBenchmark
{
    /// <summary>Our forward may take at most this many times the TorchSharp module's.</summary>
    public const double MaxRatio = 1.10;

    /// <summary>Largest accepted difference between the two softmax outputs.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Largest accepted difference between the logarithms of the two softmax outputs.</summary>
    public const double LogTolerance = 1e-3;

    /// <summary>
    /// A TorchSharp module run: how it receives the input, given the channels_last (N, H, W, C) tensor our runner
    /// takes, and which of our operation sequences it imitates (<c>--explain</c> only).
    /// </summary>
    private sealed record Baseline(string Label, bool Goal, Func<Tensor, Tensor> Input, KerasOps? Ops = null);

    private sealed record Network(
        string Name, string Json, long ParameterCount, int Batch, long[] ImageShape, int DefaultRepeat, int Warmup,
        Func<KerasModel, KerasOps?, nn.Module<Tensor, Tensor>> Module, Baseline[] Baselines, Baseline[] Explain);

    /// <summary>The natural TorchSharp way: an NCHW contiguous input (converted outside the timed region).</summary>
    private static readonly Baseline Nchw = new("NCHW", true, x => x.permute(0, 3, 1, 2).contiguous());

    /// <summary>
    /// Our input's own memory seen as NCHW (a permuted view, no copy): libtorch then runs the module in channels_last
    /// memory format, as it runs our kernels.
    /// </summary>
    private static readonly Baseline ChannelsLast = new("channels_last", false, x => x.permute(0, 3, 1, 2));

    private static Baseline Imitating(string what, KerasOps ops) => ChannelsLast with { Label = "channels_last + " + what, Ops = ops };

    private static readonly Network[] Networks =
    [
        new("ResNet50", ResNet50.ArchitectureJson(), ResNet50.ParameterCount, 8, [224, 224, 3], 20, 3, (k, o) => new TorchResNet50(k, o), [Nchw, ChannelsLast],
        [
            Imitating("our BatchNorm", new KerasOps(KerasBatchNorm: true)),
            Imitating("out-of-place ReLU/Add", new KerasOps(OutOfPlace: true)),
            Imitating("separate padding", new KerasOps(Padding: true)),
            Imitating("all three", new KerasOps(true, true, true)),
        ]),
        new("LeNet", LeNet.ArchitectureJson(), LeNet.ParameterCount, 256, [28, 28, 1], 50, 20, (k, o) => new TorchLeNet(k, o), [Nchw, ChannelsLast],
        [
            Imitating("out-of-place ReLU", new KerasOps(OutOfPlace: true)),
        ]),
    ];

    private sealed record Row(string Network, int Batch, string Baseline, bool Goal, double Ours, double Theirs);

    public static int Run(ForwardOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        var selected = Networks.Where(n => options.Networks is null || options.Networks.Contains(n.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (selected.Length == 0)
        {
            Console.Error.WriteLine($"No such network; choose from {string.Join(", ", Networks.Select(n => n.Name))}.");
            return 2;
        }
        Console.WriteLine(string.Create(inv, $"libtorch threads: {get_num_threads()} (default; the same for both sides), {Environment.ProcessorCount} cores."));
        var loadBefore = LoadAverage();
        var rows = new List<Row>();
        var failures = new List<string>();
        foreach (var network in selected)
        {
            rows.AddRange(RunNetwork(network, options.Repeat ?? network.DefaultRepeat, options.Only, options.Explain, failures));
        }
        Console.WriteLine($"Load average (1 min) before / after the runs: {loadBefore} / {LoadAverage()} on {Environment.ProcessorCount} cores (other work on the machine skews the figures).");
        if (options.Only is not null) return failures.Count == 0 || !options.Check ? 0 : 1;
        return Report(options, rows, failures);
    }

    private static List<Row> RunNetwork(Network network, int repeat, string? only, bool explain, List<string> failures)
    {
        var inv = CultureInfo.InvariantCulture;
        var watch = Stopwatch.StartNew();
        using var model = KerasFile.CreateFromArchitecture(network.Json, seed: 1);
        if (model.ParameterCount != network.ParameterCount)
            throw new InvalidOperationException($"{network.Name} has {model.ParameterCount:N0} parameters, expected {network.ParameterCount:N0}.");
        TorchWeights.RandomizeBatchNorm(model, seed: 2);
        using var runner = ModelRunner.Create(model);
        var baselines = explain ? [.. network.Baselines, .. network.Explain] : network.Baselines;
        var modules = baselines.Select(b => b.Ops).Distinct().ToDictionary(o => o ?? KerasOps.None, o => network.Module(model, o));
        Console.WriteLine(string.Create(inv,
            $"Built {model} with fresh weights, its runner and {modules.Count} TorchSharp module(s) in {watch.Elapsed.TotalSeconds:F1} s."));

        using var generator = new Generator(3);
        using var x = randn([network.Batch, .. network.ImageShape], generator: generator);
        var inputs = baselines.Select(b => b.Input(x)).ToArray();
        nn.Module<Tensor, Tensor> ModuleOf(int b) => modules[baselines[b].Ops ?? KerasOps.None];
        var rows = new List<Row>();
        try
        {
            Verify(network, runner, baselines, ModuleOf, x, inputs, failures);

            var labels = new[] { "ours" }.Concat(baselines.Select(b => b.Label)).ToArray();
            Func<Tensor>[] passes = [() => runner.Predict(x), .. inputs.Select((input, b) => (Func<Tensor>)(() => ModuleOf(b).forward(input)))];
            var variants = passes.Select(p => (Func<Sample>)(() => Time(p))).ToArray();
            var active = Enumerable.Range(0, variants.Length)
                .Where(i => only is null || labels[i].Equals(only, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (active.Length == 0) throw new ArgumentException($"--only {only}: no such variant; choose from {string.Join(", ", labels)}.");
            Console.WriteLine($"Warm-up: {network.Warmup} discarded runs of each.");
            for (var i = 0; i < network.Warmup; i++)
            {
                foreach (var v in active) variants[v]();
            }
            var memory = new double[passes.Length];
            foreach (var i in active) memory[i] = WorkingMemoryMb(passes[i]);
            // The trim leaves the heap cold: one more untimed pass of each refills it.
            foreach (var v in active) variants[v]();
            var samples = variants.Select(_ => new List<Sample>()).ToArray();
            for (var r = 0; r < repeat; r++)
            {
                // Alternate the order, so neither side always runs right after the other.
                var order = active.ToArray();
                if (r % 2 == 1) Array.Reverse(order);
                foreach (var i in order) samples[i].Add(variants[i]());
            }
            Console.WriteLine(string.Create(inv, $"{network.Name}, batch {network.Batch}: {repeat} timed runs each."));
            foreach (var i in active)
            {
                var ms = samples[i].Select(t => t.Ms).ToArray();
                Console.WriteLine(string.Create(inv,
                    $"  {(i == 0 ? "ours" : $"TorchSharp module, {labels[i]}"),-70} min/median/max {Stats(ms)} ms, minor page faults per run {Median(samples[i].Select(t => (double)t.MinorFaults)):F0}, working memory {memory[i]:F0} MB"));
            }
            if (only is not null) return rows;
            var ours = Median(samples[0].Select(t => t.Ms));
            for (var b = 0; b < baselines.Length; b++)
            {
                rows.Add(new Row(network.Name, network.Batch, baselines[b].Label, baselines[b].Goal, ours, Median(samples[b + 1].Select(t => t.Ms))));
            }
            return rows;
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
            foreach (var module in modules.Values) module.Dispose();
        }
    }

    /// <summary>Runs both sides once and compares the softmax outputs.</summary>
    private static void Verify(Network network, ModelRunner runner, Baseline[] baselines, Func<int, nn.Module<Tensor, Tensor>> module, Tensor x, Tensor[] inputs, List<string> failures)
    {
        var inv = CultureInfo.InvariantCulture;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ours = runner.Predict(x);
        var top = ours.max().item<float>();
        Console.WriteLine(string.Create(inv,
            $"Output {network.Name}: [{string.Join(", ", ours.shape)}], largest probability {top:G4}, mean largest per row {ours.amax(1).mean().item<float>():G4}."));
        for (var b = 0; b < inputs.Length; b++)
        {
            var theirs = module(b).forward(inputs[b]);
            if (!ours.shape.SequenceEqual(theirs.shape))
            {
                failures.Add($"{network.Name}: our output has shape [{string.Join(", ", ours.shape)}], the TorchSharp module's ({baselines[b].Label}) [{string.Join(", ", theirs.shape)}]");
                continue;
            }
            var diff = (ours - theirs).abs().max().item<float>();
            // Near-uniform probabilities would hide a mismatch in absolute terms: compare log-probabilities too
            // (logits up to a per-row constant; the floor keeps a saturated 0 from making NaN).
            var logDiff = (ours.clamp_min(1e-30).log() - theirs.clamp_min(1e-30).log()).abs().max().item<float>();
            var ok = diff <= Tolerance && logDiff <= LogTolerance;
            Console.WriteLine(string.Create(inv,
                $"Check {network.Name} vs TorchSharp module ({baselines[b].Label}): max |difference| of the softmax outputs {diff:G3} (tolerance {Tolerance:G}), of their logarithms {logDiff:G3} (tolerance {LogTolerance:G}) -> {(ok ? "agree" : "DISAGREE")}"));
            if (!ok)
                failures.Add(string.Create(inv, $"{network.Name}: our output differs from the TorchSharp module's ({baselines[b].Label}) by {diff:G3}, {logDiff:G3} in log-probabilities"));
        }
    }

    /// <summary>One timed forward pass: wall time and the minor page faults (fresh pages from the kernel) it took.</summary>
    private readonly record struct Sample(double Ms, long MinorFaults);

    /// <summary>Times one forward pass, every tensor it creates disposed (inside the timed region, on both sides).</summary>
    private static Sample Time(Func<Tensor> forward)
    {
        var faults = MinorFaults();
        var watch = Stopwatch.StartNew();
        using (NewDisposeScope())
        using (no_grad())
        {
            forward().Dispose();
        }
        var ms = watch.Elapsed.TotalMilliseconds;
        return new Sample(ms, MinorFaults() - faults);
    }

    /// <summary>
    /// The working memory of one (untimed) forward pass in MiB: free heap memory is given back first
    /// (<c>malloc_trim</c>) and the peak RSS reset (<c>/proc/self/clear_refs</c>), so every byte the pass allocates
    /// shows up as a rise of the peak RSS.
    /// </summary>
    private static double WorkingMemoryMb(Func<Tensor> forward)
    {
        Libc.MallocTrim(0);
        File.WriteAllText("/proc/self/clear_refs", "5");
        var before = ProcStatus.Read();
        using (NewDisposeScope())
        using (no_grad())
        {
            forward().Dispose();
        }
        return (ProcStatus.Read().PeakRssKb - before.RssKb) / 1024.0;
    }

    /// <summary>Field 10 (minflt) of <c>/proc/self/stat</c>: fresh pages the kernel handed this process.</summary>
    private static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[7], CultureInfo.InvariantCulture);
    }

    private static int Report(ForwardOptions options, List<Row> rows, List<string> failures)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new StringBuilder();
        table.AppendLine("| network | batch | TorchSharp module input | ours median ms | TorchSharp module median ms | ratio ours / module | goal (<= 1.10) |");
        table.AppendLine("|---|---:|---|---:|---:|---:|---|");
        foreach (var row in rows)
        {
            var ratio = row.Ours / row.Theirs;
            var goal = row.Goal ? (ratio <= MaxRatio ? "met" : "**missed**") : row.Baseline.Contains('+') ? "(explain)" : "(reference)";
            table.AppendLine(string.Create(inv,
                $"| {row.Network} | {row.Batch} | {row.Baseline} | {Ms(row.Ours)} | {Ms(row.Theirs)} | {ratio:F2} | {goal} |"));
            if (row.Goal && ratio > MaxRatio)
                failures.Add(string.Create(inv, $"{row.Network} (batch {row.Batch}) takes {ratio:F2}x the TorchSharp module's time (goal <= {MaxRatio:F2}x)"));
        }
        Console.WriteLine();
        Console.WriteLine("Medians of the timed runs. Ours takes channels_last (N, H, W, C) input; the TorchSharp module takes it NCHW contiguous (goal row)");
        Console.WriteLine("or as an NCHW view of the same channels_last memory (reference row; explain rows also imitate one of our operation sequences).");
        Console.WriteLine();
        Console.Write(table);
        Console.WriteLine();
        return Conclude(failures, options.Check);
    }

    private static string Stats(double[] ms) => $"{Ms(ms.Min())}/{Ms(Median(ms))}/{Ms(ms.Max())}";

    /// <summary>Milliseconds with two decimals below 20 ms, one above.</summary>
    private static string Ms(double ms) => ms.ToString(ms < 20 ? "F2" : "F1", CultureInfo.InvariantCulture);
}
