using System.Diagnostics;
using System.Globalization;
using Surgeon;
using TorchSharp;
using static TorchSharp.torch;

namespace Samples;

/// <summary>What the samples measure after each step: size, cost, accuracy and speed of a model.</summary>
public sealed record StepRow(string Step, long Parameters, long Macs, double Accuracy, double LatencyMs, double Seconds);

/// <summary>Evaluation and reporting shared by the samples.</summary>
public static class SampleSupport
{
    public static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Test accuracy through Surgeon's inference runner (what a deployed pruned model runs).</summary>
    public static double Accuracy(KerasModel model, LabeledImages test, int batchSize = 500)
    {
        using var runner = ModelRunner.Create(model);
        long right = 0;
        for (long start = 0; start < test.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var n = Math.Min(batchSize, test.Count - start);
            var predicted = runner.Predict(test.Images.narrow(0, start, n)).argmax(-1);
            right += predicted.eq(test.Labels.narrow(0, start, n)).sum().item<long>();
        }
        return (double)right / test.Count;
    }

    /// <summary>Median wall time of one inference on a batch of <paramref name="batch"/> samples, in ms.</summary>
    public static double LatencyMs(KerasModel model, LabeledImages test, int batch = 256, int runs = 9)
    {
        using var runner = ModelRunner.Create(model);
        using var x = test.Images.narrow(0, 0, Math.Min(batch, test.Count));
        using (runner.Predict(x)) { } // warm-up
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            using (runner.Predict(x)) { }
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>The samples' command line: <c>[--full] [--out DIR]</c> (default: out/ beside the program, created).</summary>
    public static (bool Full, string OutDir) Arguments(string[] args)
    {
        var at = Array.IndexOf(args, "--out");
        var outDir = at >= 0 && at + 1 < args.Length ? args[at + 1] : Path.Combine(AppContext.BaseDirectory, "out");
        Directory.CreateDirectory(outDir);
        return (args.Contains("--full"), outDir);
    }

    public static StepRow Measure(string step, KerasModel model, LabeledImages test, double seconds)
    {
        var cost = ModelCost.Of(model);
        return new StepRow(step, cost.Parameters, cost.Macs ?? -1, Accuracy(model, test), LatencyMs(model, test), seconds);
    }

    public static void PrintHeader()
    {
        Console.WriteLine("| step | parameters | MACs | test accuracy | latency, batch 256 (ms) | step time (s) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
    }

    public static void Print(StepRow row) =>
        Console.WriteLine(string.Create(Invariant, $"| {row.Step} | {row.Parameters:N0} | {row.Macs:N0} | {row.Accuracy:P2} | {row.LatencyMs:F1} | {row.Seconds:F1} |"));

    /// <summary>A trained copy of <paramref name="model"/> (the input is left as it is).</summary>
    public static KerasModel Train(KerasModel model, LabeledImages train, int epochs, int batchSize, long seed, double learningRate = 1e-3)
    {
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Adam(learningRate) });
        var progress = new SyncProgress<EpochReport>(r => Console.WriteLine($"    {r}"));
        trainer.Fit(train.Images, train.Labels, new FitOptions { Epochs = epochs, BatchSize = batchSize, Seed = seed }, progress);
        return trainer.ToModel();
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
