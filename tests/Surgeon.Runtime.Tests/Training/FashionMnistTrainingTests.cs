using System.Diagnostics;
using Xunit.Abstractions;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>LeNet learns Fashion-MNIST: one epoch on 2,000 images is clearly better than chance (10%), fast.</summary>
[Collection("Sequential")]
public sealed class FashionMnistTrainingTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Lenet_OneEpochOn2000Images_ReachesOver60PercentOnTestImages()
    {
        TrainingTestModels.RequireFashionMnist();
        using var train = FashionMnist.Load(FashionMnistSplit.Train, count: 2000);
        using var test = FashionMnist.Load(FashionMnistSplit.Test, count: 1000);
        // samples/models/lenet.h5 holds seeded random (untrained) weights: this trains it from scratch.
        using var model = TrainingTestModels.LoadSampleLenet();
        var clock = Stopwatch.StartNew();
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Adam(5e-3) });

        var reports = trainer.Fit(train.Images, train.Labels, new FitOptions { Epochs = 1, BatchSize = 32, Seed = 7, ValidationX = test.Images, ValidationY = test.Labels });

        clock.Stop();
        var report = Assert.Single(reports);
        output.WriteLine($"{report}; {report.Steps / (report.Seconds):F0} steps/s (with validation); total {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(63, report.Steps);
        Assert.True(report.ValidationAccuracy > 0.60, $"test accuracy {report.ValidationAccuracy:P1} after one epoch");
        Assert.True(clock.Elapsed.TotalSeconds < 20, $"took {clock.Elapsed.TotalSeconds:F1} s");
        var evaluation = trainer.Evaluate(test.Images, test.Labels);
        Assert.Equal(report.ValidationAccuracy!.Value, evaluation.Accuracy!.Value, 6);
        Assert.Equal(1000, evaluation.Samples);
    }
}
