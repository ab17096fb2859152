using Surgeon.Runtime.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>Forward passes leave no tensor behind (TorchSharp's per-thread live-tensor statistics).</summary>
[Collection("Sequential")]
public sealed class LifetimeTests
{
    [SkippableFact]
    public void Predict_1000Times_LeavesLiveTensorCountUnchanged()
    {
        // A model with convolutions, pooling, dense layers, a residual Add and captured layer outputs.
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "functional_mix"));
        using var runner = ModelRunner.Create(model);
        using var input = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "functional_mix", "input.npy"));
        using (var warm = runner.Predict(input)) { }

        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        var before = stats.ThreadTotalLiveCount;
        for (var i = 0; i < 1000; i++)
        {
            using var output = runner.Predict(input);
        }
        for (var i = 0; i < 100; i++)
        {
            using var result = runner.Forward(new[] { input }, model.Layers.Where(l => l.ClassName != "InputLayer").Select(l => l.Name));
        }

        Assert.Equal(before, stats.ThreadTotalLiveCount);
    }
}

[CollectionDefinition("Sequential", DisableParallelization = true)]
public sealed class SequentialCollection
{
}
