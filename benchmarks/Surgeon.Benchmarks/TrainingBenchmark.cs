using System.Diagnostics;
using System.Globalization;
using TorchSharp.Modules;
using static Surgeon.Benchmarks.BenchmarkSupport;
using static TorchSharp.torch;

namespace Surgeon.Benchmarks;

/// <param name="Repeat">Timed runs per batch size (each of 100 steps, after 20 warm-up steps).</param>
/// <param name="Threads">libtorch's thread count, or null for its default.</param>
internal sealed record TrainingOptions(int Repeat, int? Threads);

/// <summary>
/// <c>training</c>: LeNet (samples/models/lenet.h5) training steps per second on Fashion-MNIST through
/// <see cref="ModelTrainer"/>, against the same network written by hand in TorchSharp (NCHW input prepared once, torch
/// layouts, torch.optim.Adam with Keras's defaults). One step is forward, backward and update.
/// </summary>
internal static class TrainingBenchmark
{
    private const int Steps = 100;

    public static int Run(TrainingOptions options)
    {
        if (!FashionMnist.IsAvailable())
        {
            Console.Error.WriteLine($"Fashion-MNIST not found in {FashionMnist.DefaultDirectory}: install the Debian package dataset-fashion-mnist.");
            return 2;
        }
        if (options.Threads is { } threads) set_num_threads(threads);
        using var train = FashionMnist.Load(FashionMnistSplit.Train, count: 12_800);
        using var model = KerasFile.Load(Path.Combine(RepositoryRoot(), "samples", "models", "lenet.h5"));
        var load = LoadAverage();
        Console.WriteLine($"libtorch threads: {get_num_threads()}; {Steps} timed steps per run, median of {options.Repeat}");
        Console.WriteLine();
        Console.WriteLine("| batch | trainer steps/s | samples/s | hand-written steps/s | hand-written / trainer |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (var batch in new[] { 32, 128 })
        {
            using var part = train.Take(batch * Steps);
            var ours = Median(Enumerable.Range(0, options.Repeat).Select(_ => Trainer(model, train, part, batch)));
            var baseline = Median(Enumerable.Range(0, options.Repeat).Select(_ => HandWritten(model, part, batch)));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {batch} | {ours:F0} | {ours * batch:F0} | {baseline:F0} | {baseline / ours:F2} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"Load average (1 min) before / after: {load} / {LoadAverage()} on {Environment.ProcessorCount} cores.");
        return 0;
    }

    private static double Trainer(KerasModel model, LabeledImages train, LabeledImages part, int batch)
    {
        using var trainer = ModelTrainer.Create(model);
        using (var warm = train.Take(batch * 20)) trainer.Fit(warm.Images, warm.Labels, new FitOptions { BatchSize = batch, Shuffle = false });
        var clock = Stopwatch.StartNew();
        trainer.Fit(part.Images, part.Labels, new FitOptions { BatchSize = batch, Shuffle = false });
        return Steps / clock.Elapsed.TotalSeconds;
    }

    private static double HandWritten(KerasModel model, LabeledImages part, int batch)
    {
        using var scope = NewDisposeScope();
        Parameter P(string layer, string weight, Func<Tensor, Tensor> layout) =>
            new(layout(model[layer].FindWeight(weight)!.Value).contiguous().clone(), true);
        var k1 = P("conv2d_Conv2D1", "kernel", t => t.permute(3, 2, 0, 1));
        var b1 = P("conv2d_Conv2D1", "bias", t => t);
        var k2 = P("conv2d_Conv2D2", "kernel", t => t.permute(3, 2, 0, 1));
        var b2 = P("conv2d_Conv2D2", "bias", t => t);
        var w3 = P("dense_Dense1", "kernel", t => t.t());
        var b3 = P("dense_Dense1", "bias", t => t);
        var w4 = P("dense_Dense2", "kernel", t => t.t());
        var b4 = P("dense_Dense2", "bias", t => t);
        var optimizer = optim.Adam(new[] { k1, b1, k2, b2, w3, b3, w4, b4 }, 1e-3, 0.9, 0.999, 1e-7);
        var images = part.Images.permute(0, 3, 1, 2).contiguous();
        void Step(long s)
        {
            using var stepScope = NewDisposeScope();
            var x = images.narrow(0, s * batch, batch);
            var y = part.Labels.narrow(0, s * batch, batch);
            optimizer.zero_grad();
            var h = nn.functional.max_pool2d(nn.functional.relu(nn.functional.conv2d(x, k1, b1)), new long[] { 2, 2 });
            h = nn.functional.max_pool2d(nn.functional.conv2d(h, k2, b2), new long[] { 2, 2 });
            h = h.permute(0, 2, 3, 1).reshape(batch, -1);
            h = nn.functional.dropout(nn.functional.relu(nn.functional.linear(h, w3, b3)), 0.5, true);
            var loss = nn.functional.cross_entropy(nn.functional.linear(h, w4, b4), y);
            loss.backward();
            optimizer.step();
            loss.item<float>();
        }
        for (var s = 0; s < 20; s++) Step(s);
        var clock = Stopwatch.StartNew();
        for (var s = 0; s < Steps; s++) Step(s);
        return Steps / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The folder holding Surgeon.sln, found upwards from the program.</summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Surgeon.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No Surgeon.sln above {AppContext.BaseDirectory}.");
    }
}
