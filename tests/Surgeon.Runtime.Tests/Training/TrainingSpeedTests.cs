using System.Diagnostics;
using TorchSharp.Modules;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>
/// Opt-in measurement (SURGEON_BENCH=1): LeNet training steps per second through <see cref="ModelTrainer"/> against
/// the same network written by hand in TorchSharp (NCHW input prepared once, torch layouts, torch.optim.Adam).
/// SURGEON_BENCH_THREADS sets libtorch's thread count.
/// </summary>
[Collection("Sequential")]
public sealed class TrainingSpeedTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Lenet_StepsPerSecond_AgainstHandWrittenTorchSharp()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("SURGEON_BENCH") == "1", "Benchmark: set SURGEON_BENCH=1 to run it.");
        TrainingTestModels.RequireFashionMnist();
        if (Environment.GetEnvironmentVariable("SURGEON_BENCH_THREADS") is { Length: > 0 } threads) set_num_threads(int.Parse(threads));
        output.WriteLine($"libtorch threads: {get_num_threads()}");
        using var train = FashionMnist.Load(FashionMnistSplit.Train, count: 12800);
        using var model = TrainingTestModels.LoadSampleLenet();
        const int steps = 100;
        foreach (var batch in new[] { 32, 128, 32, 128 })
        {
            using var part = train.Take(batch * steps);
            var ours = Trainer(model, train, part, batch, steps);
            var baseline = HandWritten(model, part, batch, steps);
            output.WriteLine($"batch {batch}: trainer {ours:F0} steps/s ({ours * batch:F0} samples/s), hand-written {baseline:F0} steps/s, ratio {baseline / ours:F2}");
        }
    }

    private static double Trainer(KerasModel model, LabeledImages train, LabeledImages part, int batch, int steps)
    {
        using var trainer = ModelTrainer.Create(model);
        using (var warm = train.Take(batch * 20)) trainer.Fit(warm.Images, warm.Labels, new FitOptions { BatchSize = batch, Shuffle = false });
        var clock = Stopwatch.StartNew();
        trainer.Fit(part.Images, part.Labels, new FitOptions { BatchSize = batch, Shuffle = false });
        return steps / clock.Elapsed.TotalSeconds;
    }

    private static double HandWritten(KerasModel model, LabeledImages part, int batch, int steps)
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
        for (var s = 0; s < steps; s++) Step(s);
        return steps / clock.Elapsed.TotalSeconds;
    }
}
