using System.Globalization;

namespace Surgeon.Benchmarks;

/// <summary>
/// Entry point: <c>io [--repeat N] [--keep DIR] [--check] [--warm-jit]</c> or
/// <c>forward [--repeat N] [--network NAME] [--explain] [--only VARIANT] [--check]</c> or
/// <c>surgery [--repeat N] [--network NAME] [--warm-jit] [--scattered] [--check]</c> or
/// <c>generator [--repeat N] [--compiler] [--check]</c> or <c>training [--repeat N] [--threads N]</c>; see
/// benchmarks/README.md.
/// </summary>
internal static class Program
{
    private const string Usage = """
        Surgeon benchmarks (run in Release; see benchmarks/README.md)

          io [--repeat N] [--keep DIR] [--check] [--warm-jit]
              Load + save of a VGG16-sized model (138,357,544 float32 parameters) written by Surgeon's own writers,
              .h5 and .keras, against File.Copy of the same file. Each measurement runs in a fresh child process and
              reports its wall time and peak RSS (VmHWM). Prints a Markdown table of medians.
                --repeat N   measured runs per operation after one warm-up run (default 5)
                --keep DIR   write the model files to DIR and keep them; reuse them if they already exist
                --check      exit with code 1 if a goal is missed (load+save <= 3x copy, peak RSS < 2x file size)
                --warm-jit   in each child, load (and save) a tiny model of the same layers first, so the timed
                             region excludes JIT compilation (default: cold process, as a CLI run sees it)

          forward [--repeat N] [--network NAME] [--explain] [--only VARIANT] [--check]
              ModelRunner.Predict on ResNet50 (batch 8, 224x224x3) and LeNet (batch 256, 28x28x1), built from their
              Keras architecture JSON with random weights, against the same networks written directly as TorchSharp
              modules with the same weights. Checks that both agree, then alternates timed runs in this process and
              prints a Markdown table of medians and ratios.
                --repeat N        timed runs per variant after the warm-up (default 20 for ResNet50, 50 for LeNet)
                --network NAME    only this network (ResNet50 or LeNet); may be given twice
                --explain         also time modules that imitate one of our operation sequences at a time
                                  (our BatchNorm, out-of-place ReLU/Add, separate padding), to split the gap
                --only VARIANT    time only one variant ('ours', 'NCHW', 'channels_last', ...) for a profiler
                --check           exit with code 1 if a goal is missed (ours <= 1.10x the NCHW module) or the
                                  outputs disagree

          surgery [--repeat N] [--network NAME] [--warm-jit] [--scattered] [--check]
              One ModelSurgeon deleting the first 25% of the channels of every Conv2D and Dense (not the output Dense)
              of VGG16 and ResNet50, built with random weights, against one in-memory clone of every weight tensor.
              Each measurement runs in a fresh child process; reports medians, the ratio to the copy and the peak RSS
              (VmHWM) above the built model relative to the model's weight bytes.
                --repeat N        measured runs per operation and network (default 5)
                --network NAME    only this network (VGG16 or ResNet50); may be given twice
                --warm-jit        in each child, run the same operation once untimed first (JIT excluded)
                --scattered       delete every 4th channel (as APoZ picks would) instead of the first 25%
                --check           exit with code 1 if a goal is missed (surgery <= 1.5x the copy, peak RSS above
                                  the model <= 2.2x the weight bytes)

          generator [--repeat N] [--compiler] [--check]
              The Surgeon source generator on a plan naming a 313-layer InceptionV3 architecture, through Roslyn's
              CSharpGeneratorDriver: the first run in new child processes (fresh, and with Roslyn warmed up) and in a
              warm process (new driver, new compilation), and the cached rerun after an unrelated edit, split into
              Roslyn's per-compilation work (a minimal generator) and what the generator adds. Prints a Markdown table
              of medians.
                --repeat N        child processes per variant (default 5); in-process measurements take 10x N runs
                --compiler        also build a project with the plan N times with the SDK's csc, without and with its
                                  server, and report the generator's time from -p:ReportAnalyzer=true
                --check           exit with code 1 if a goal is missed (first run in a warm process and with Roslyn
                                  warm < 100 ms, cached rerun adds < 1 ms, reruns all cached)

          training [--repeat N] [--threads N]
              LeNet (samples/models/lenet.h5) training steps per second on Fashion-MNIST through ModelTrainer, against
              the same network written by hand in TorchSharp (torch layouts, torch.optim.Adam), batches 32 and 128.
                --repeat N        timed runs of 100 steps per batch size and side (default 5); medians are printed
                --threads N       libtorch's thread count (default: libtorch's)
        """;

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == Child.Command) return Child.Run(args[1..]);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
#if DEBUG
        Console.WriteLine("WARNING: this is a Debug build; run with -c Release for meaningful figures.");
#endif
        return args[0] switch
        {
            "io" => Run(args, new[] { "--check", "--warm-jit" }, new[] { "--repeat", "--keep" },
                o => IoBenchmark.Run(new IoOptions(o.Repeat ?? 5, o.Last("--keep"), o.Has("--check"), o.Has("--warm-jit")))),
            "forward" => Run(args, new[] { "--check", "--explain" }, new[] { "--repeat", "--network", "--only" },
                o => ForwardBenchmark.Run(new ForwardOptions(o.Repeat, o.Has("--check"), o.Networks, o.Last("--only"), o.Has("--explain")))),
            "surgery" => Run(args, new[] { "--check", "--warm-jit", "--scattered" }, new[] { "--repeat", "--network" },
                o => SurgeryBenchmark.Run(new SurgeryOptions(o.Repeat ?? 5, o.Has("--check"), o.Has("--warm-jit"), o.Networks, o.Has("--scattered")))),
            "generator" => Run(args, new[] { "--check", "--compiler" }, new[] { "--repeat" },
                o => GeneratorBenchmark.Run(new GeneratorOptions(o.Repeat ?? 5, o.Has("--check"), o.Has("--compiler")))),
            "training" => Run(args, Array.Empty<string>(), new[] { "--repeat", "--threads" },
                o => o.Last("--threads") is { } t && (!int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
                    ? Bad($"Bad argument '--threads {t}'.")
                    : TrainingBenchmark.Run(new TrainingOptions(o.Repeat ?? 5, o.Last("--threads") is { } th ? int.Parse(th, CultureInfo.InvariantCulture) : null))),
            _ => Bad($"Unknown command '{args[0]}'."),
        };
    }

    private static int Bad(string message)
    {
        Console.Error.WriteLine($"{message}\n\n{Usage}");
        return 2;
    }

    /// <summary>Parses a subcommand's <paramref name="flags"/> and options taking a value, then runs it; 2 on a bad argument.</summary>
    private static int Run(string[] args, string[] flags, string[] valued, Func<Options, int> run)
    {
        var options = new Options();
        for (var i = 1; i < args.Length; i++)
        {
            if (flags.Contains(args[i])) options.Flags.Add(args[i]);
            else if (valued.Contains(args[i]) && i + 1 < args.Length) options.Values.Add((args[i], args[++i]));
            else return Bad($"Bad argument '{args[i]}'.");
        }
        if (options.Last("--repeat") is { } r && (!int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0))
            return Bad($"Bad argument '--repeat {r}'.");
        return run(options);
    }

    /// <summary>A subcommand's parsed command line.</summary>
    private sealed class Options
    {
        public HashSet<string> Flags { get; } = new(StringComparer.Ordinal);

        public List<(string Name, string Value)> Values { get; } = new();

        public bool Has(string flag) => Flags.Contains(flag);

        public string? Last(string option) => Values.LastOrDefault(v => v.Name == option).Value;

        public int? Repeat => Last("--repeat") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : null;

        /// <summary>Every <c>--network</c> given, or null for all.</summary>
        public List<string>? Networks => Values.Any(v => v.Name == "--network") ? Values.Where(v => v.Name == "--network").Select(v => v.Value).ToList() : null;
    }
}
