using System.Diagnostics;
using ResNetFashion;
using Samples;
using Surgeon;
using static Samples.SampleSupport;

// A small ResNet on Fashion-MNIST, pruned globally across all its convolutions in one ModelSurgeon per step (a small
// fraction of channels each time, ranked by filter L1 norm, residual groups ranked and pruned together), fine-tuned
// after every step: the flow of keras-surgeon's Inception example.
// Usage: ResNetFashion [--full] [--out DIR]
//   default: a small setting for CI (5,000 training images, 1 epoch, 2 steps of 15% with 1 fine-tuning epoch);
//   --full:  60,000 training images, 4 epochs, 4 steps of 15% with 1 fine-tuning epoch each.
var (full, outDir) = Arguments(args);
var (trainCount, epochs, steps, fraction) = full ? (60_000, 4, 4, 0.15) : (5_000, 1, 2, 0.15);

Console.WriteLine($"Fashion-MNIST from {FashionMnist.DefaultDirectory} ({(full ? "full" : "small")} setting)");
using var train = FashionMnist.Load(FashionMnistSplit.Train, trainCount);
using var test = FashionMnist.Load(FashionMnistSplit.Test);

var watch = Stopwatch.StartNew();
using var untrained = KerasFile.CreateFromArchitecture(ResidualNetwork.Json(), seed: 2);
var convolutions = untrained.Layers.Where(l => l.ClassName == "Conv2D").Select(l => l.Name).ToList();
Console.WriteLine($"Training a ResNet ({untrained.ParameterCount:N0} parameters, {convolutions.Count} convolutions) for {epochs} epoch(s) on {train.Count:N0} images");
var model = Train(untrained, train, epochs, batchSize: 64, seed: 2);
KerasFile.Save(model, Path.Combine(outDir, "resnet-fashion.keras"));

Console.WriteLine();
PrintHeader();
var first = Measure("trained", model, test, watch.Elapsed.TotalSeconds);
Print(first);
var last = first;
for (var step = 1; step <= steps; step++)
{
    watch.Restart();
    // Rank every convolution's filters together; the residual Adds tie the stem, shortcut and block outputs into
    // groups that lose the same channels.
    var importance = convolutions.ToDictionary(name => name, name => ChannelImportance.L1Norm(model, name));
    var selection = ChannelSelection.Global(model, importance, new GlobalSelectionOptions { Ratio = fraction, RoundTo = 2 });
    using var result = ChannelSelection.AddTo(new ModelSurgeon(model), selection).Operate();
    var groups = selection.Count(s => result.DeletedChannels.ContainsKey(s.Key));
    Console.WriteLine($"step {step}: {selection.Sum(s => s.Value.Length)} channels from {groups} convolutions in one surgery; {result.InexactLayers.Count} layer(s) inexact before fine-tuning (BatchNorm constants at 'same' padding borders)");
    Print(Measure($"{step}: pruned", result.Model, test, watch.Elapsed.TotalSeconds));
    var tuned = Train(result.Model, train, 1, batchSize: 64, seed: step + 2);
    model.Dispose();
    model = tuned;
    last = Measure($"{step}: fine-tuned", model, test, watch.Elapsed.TotalSeconds);
    Print(last);
}
var path = Path.Combine(outDir, "resnet-fashion-pruned.keras");
KerasFile.Save(model, path);
model.Dispose();
Console.WriteLine();
Console.WriteLine(string.Create(Invariant,
    $"Parameters {first.Parameters:N0} -> {last.Parameters:N0} ({1 - (double)last.Parameters / first.Parameters:P1} fewer), MACs {first.Macs:N0} -> {last.Macs:N0} ({1 - (double)last.Macs / first.Macs:P1} fewer), test accuracy {first.Accuracy:P2} -> {last.Accuracy:P2}. Saved {path}."));
// A failing exit code for CI when something is plainly broken: nothing pruned, or a model that no longer learns.
return last.Parameters < first.Parameters && last.Accuracy >= 0.6 ? 0 : 1;
