using System.Globalization;

namespace Surgeon.Benchmarks;

/// <summary>
/// Entry point: <c>io [--repeat N] [--keep DIR] [--check] [--warm-jit]</c> or
/// <c>forward [--repeat N] [--network NAME] [--explain] [--only VARIANT] [--check]</c> or
/// <c>surgery [--repeat N] [--network NAME] [--warm-jit] [--scattered] [--check]</c> or
/// <c>generator [--repeat N] [--compiler] [--check]</c>; see benchmarks/README.md.
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
        """;

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == Child.Command) return Child.Run(args[1..]);
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        if (args[0] == "forward") return Forward(args[1..]);
        if (args[0] == "surgery") return Surgery(args[1..]);
        if (args[0] == "generator") return Generator(args[1..]);
        if (args[0] != "io")
        {
            Console.Error.WriteLine($"Unknown command '{args[0]}'.\n\n{Usage}");
            return 2;
        }
        var repeat = 5;
        string? keep = null;
        var check = false;
        var warmJit = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--repeat" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    repeat = n;
                    i++;
                    break;
                case "--keep" when i + 1 < args.Length:
                    keep = args[++i];
                    break;
                case "--check":
                    check = true;
                    break;
                case "--warm-jit":
                    warmJit = true;
                    break;
                default:
                    Console.Error.WriteLine($"Bad argument '{args[i]}'.\n\n{Usage}");
                    return 2;
            }
        }
#if DEBUG
        Console.WriteLine("WARNING: this is a Debug build; run with -c Release for meaningful figures.");
#endif
        return IoBenchmark.Run(new IoOptions(repeat, keep, check, warmJit));
    }

    private static int Generator(string[] args)
    {
        var repeat = 5;
        var check = false;
        var compiler = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--repeat" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    repeat = n;
                    i++;
                    break;
                case "--check":
                    check = true;
                    break;
                case "--compiler":
                    compiler = true;
                    break;
                default:
                    Console.Error.WriteLine($"Bad argument '{args[i]}'.\n\n{Usage}");
                    return 2;
            }
        }
#if DEBUG
        Console.WriteLine("WARNING: this is a Debug build; run with -c Release for meaningful figures.");
#endif
        return GeneratorBenchmark.Run(new GeneratorOptions(repeat, check, compiler));
    }

    private static int Surgery(string[] args)
    {
        var repeat = 5;
        List<string>? networks = null;
        var check = false;
        var warmJit = false;
        var scattered = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--repeat" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    repeat = n;
                    i++;
                    break;
                case "--network" when i + 1 < args.Length:
                    (networks ??= new()).Add(args[++i]);
                    break;
                case "--warm-jit":
                    warmJit = true;
                    break;
                case "--check":
                    check = true;
                    break;
                case "--scattered":
                    scattered = true;
                    break;
                default:
                    Console.Error.WriteLine($"Bad argument '{args[i]}'.\n\n{Usage}");
                    return 2;
            }
        }
#if DEBUG
        Console.WriteLine("WARNING: this is a Debug build; run with -c Release for meaningful figures.");
#endif
        return SurgeryBenchmark.Run(new SurgeryOptions(repeat, check, warmJit, networks, scattered));
    }

    private static int Forward(string[] args)
    {
        int? repeat = null;
        List<string>? networks = null;
        string? only = null;
        var check = false;
        var explain = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--repeat" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    repeat = n;
                    i++;
                    break;
                case "--network" when i + 1 < args.Length:
                    (networks ??= new()).Add(args[++i]);
                    break;
                case "--only" when i + 1 < args.Length:
                    only = args[++i];
                    break;
                case "--explain":
                    explain = true;
                    break;
                case "--check":
                    check = true;
                    break;
                default:
                    Console.Error.WriteLine($"Bad argument '{args[i]}'.\n\n{Usage}");
                    return 2;
            }
        }
#if DEBUG
        Console.WriteLine("WARNING: this is a Debug build; run with -c Release for meaningful figures.");
#endif
        return ForwardBenchmark.Run(new ForwardOptions(repeat, check, networks, only, explain));
    }
}
