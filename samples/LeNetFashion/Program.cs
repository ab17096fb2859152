using System.Diagnostics;
using LeNetFashion;
using Samples;
using Surgeon;
using static Samples.SampleSupport;

// LeNet on Fashion-MNIST, pruned iteratively by APoZ with fine-tuning, as keras-surgeon's LeNet example does.
// Usage: LeNetFashion [--full] [--out DIR]
//   default: a small setting for CI (6,000 training images, 2 epochs, 2 pruning steps);
//   --full:  60,000 training images, 10 epochs, up to 8 pruning steps of 2 fine-tuning epochs each.
var (full, outDir) = Arguments(args);
var (trainCount, epochs, maxSteps, fineTuneEpochs) = full ? (60_000, 10, 8, 2) : (6_000, 2, 2, 1);

Console.WriteLine($"Fashion-MNIST from {FashionMnist.DefaultDirectory} ({(full ? "full" : "small")} setting)");
using var train = FashionMnist.Load(FashionMnistSplit.Train, trainCount);
using var test = FashionMnist.Load(FashionMnistSplit.Test);
using var apozImages = train.Take(2_000);                  // APoZ on training images, never the test set
LeNetPruning.ApozImages = apozImages.Images;

var watch = Stopwatch.StartNew();
using var untrained = KerasFile.CreateFromArchitecture(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "lenet.json")), seed: 1);
Console.WriteLine($"Training LeNet ({untrained.ParameterCount:N0} parameters) for {epochs} epoch(s) on {train.Count:N0} images");
var model = Train(untrained, train, epochs, batchSize: 128, seed: 1);
var trainedPath = Path.Combine(outDir, "lenet-fashion.h5");
KerasFile.Save(model, trainedPath);
Console.WriteLine($"Saved {trainedPath}");

var rows = new List<StepRow> { Measure("trained", model, test, watch.Elapsed.TotalSeconds) };
Console.WriteLine();
PrintHeader();
Print(rows[0]);
for (var step = 1; step <= maxSteps; step++)
{
    watch.Restart();
    using var result = LeNetPruning.Run(model, match: PlanMatch.Topology);   // the compile-time-checked plan
    if (LeNetPruning.LastDeleted.Length == 0 || result.DeletedChannels.Count == 0)
    {
        Console.WriteLine($"step {step}: no unit of dense_1 above the APoZ cutoff; stopping.");
        break;
    }
    var pruned = Measure($"{step}: pruned {LeNetPruning.LastDeleted.Length} units", result.Model, test, watch.Elapsed.TotalSeconds);
    Print(pruned);
    var tuned = Train(result.Model, train, fineTuneEpochs, batchSize: 128, seed: step + 1);
    model.Dispose();
    model = tuned;
    var row = Measure($"{step}: fine-tuned", model, test, watch.Elapsed.TotalSeconds);
    rows.Add(row);
    Print(row);
}
var first = rows[0];
var last = rows[^1];
var path = Path.Combine(outDir, "lenet-fashion-pruned.h5");
KerasFile.Save(model, path);
model.Dispose();
Console.WriteLine();
Console.WriteLine(string.Create(Invariant,
    $"Parameters {first.Parameters:N0} -> {last.Parameters:N0} ({1 - (double)last.Parameters / first.Parameters:P1} fewer), MACs {first.Macs:N0} -> {last.Macs:N0}, test accuracy {first.Accuracy:P2} -> {last.Accuracy:P2} ({(last.Accuracy - first.Accuracy) * 100:+0.00;-0.00} points). Saved {path}."));
var goal = last.Parameters <= first.Parameters / 2 && last.Accuracy >= first.Accuracy - 0.01;
Console.WriteLine(goal ? "Goal met: at least 50% fewer parameters, at most 1 point of accuracy lost." : "Goal (at least 50% fewer parameters with at most 1 point lost) not met in this setting.");
// A failing exit code for CI when something is plainly broken: nothing pruned, or a model that no longer learns.
return last.Parameters < first.Parameters && last.Accuracy >= 0.6 ? 0 : 1;
