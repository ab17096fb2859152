using Surgeon.Training;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>One training step's gradients against finite differences, and the optimizers' update rules against Keras's formulas.</summary>
public sealed class GradientAndOptimizerTests
{
    [Fact]
    public void TrainOnBatch_SgdStep_MovesEveryWeightByItsFiniteDifferenceGradient()
    {
        // float64 so that central differences are accurate; SGD with lr 1: the step is exactly -gradient.
        using var source = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(), seed: 11);
        using var model = TrainingTestModels.ToDouble(source);
        var (x, y) = TrainingTestModels.SmallCnnData(6, seed: 12, ScalarType.Float64);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Sgd(1.0) });
        using var probe = ModelTrainer.Create(model);

        trainer.TrainOnBatch(x, y);

        using var trained = trainer.ToModel();
        const double h = 1e-6;
        var checkedWeights = 0;
        foreach (var p in probe.Parameters.Where(p => p.Trainable))
        {
            var before = model[p.Layer.Name].FindWeight(p.Source.Name)!.Value.reshape(-1);
            var after = trained[p.Layer.Name].FindWeight(p.Source.Name)!.Value.reshape(-1);
            var n = before.shape[0];
            foreach (var index in new[] { 0, n / 2, n - 1 }.Distinct())
            {
                var analytic = before[index].item<double>() - after[index].item<double>();
                var numeric = (LossWith(probe, p, index, h, x, y) - LossWith(probe, p, index, -h, x, y)) / (2 * h);
                Assert.True(Math.Abs(numeric - analytic) <= 1e-7 + 1e-5 * Math.Abs(numeric),
                    $"{p} [{index}]: step gradient {analytic} vs finite difference {numeric}");
                checkedWeights++;
            }
        }
        // conv, bn, dw (kernel, bias), sep (depthwise, pointwise, bias) and the dense output (kernel, bias).
        Assert.Equal(11, probe.Parameters.Count(p => p.Trainable));
        Assert.True(checkedWeights >= 25);
    }

    private static double LossWith(ModelTrainer probe, TrainableParameter p, long index, double delta, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        using (no_grad()) p.Value.view(-1)[index].add_(delta);
        var loss = probe.Loss(x, y, training: true).item<double>();
        using (no_grad()) p.Value.view(-1)[index].add_(-delta);
        return loss;
    }

    public static TheoryData<string> Optimizers() => new() { "sgd", "momentum", "nesterov", "adam" };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Optimizer_TwoSteps_FollowKerasUpdateRule(string name)
    {
        var optimizer = name switch
        {
            "sgd" => TrainingOptimizer.Sgd(0.05),
            "momentum" => TrainingOptimizer.Sgd(0.05, momentum: 0.9),
            "nesterov" => TrainingOptimizer.Sgd(0.05, momentum: 0.8, nesterov: true),
            _ => TrainingOptimizer.Adam(0.01),
        };
        using var source = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(), seed: 21);
        using var model = TrainingTestModels.ToDouble(source);
        var (x, y) = TrainingTestModels.SmallCnnData(8, seed: 22, ScalarType.Float64);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = optimizer });
        var parameters = trainer.Parameters.Where(p => p.Trainable).ToArray();
        var w = parameters.Select(p => p.Value.detach().clone()).ToArray();
        var m = w.Select(t => zeros_like(t)).ToArray();
        var v = w.Select(t => zeros_like(t)).ToArray();

        for (var step = 1; step <= 2; step++)
        {
            using var scope = NewDisposeScope();
            var g = trainer.Gradients(x, y);
            trainer.TrainOnBatch(x, y);
            for (var i = 0; i < w.Length; i++)
            {
                // Keras's rules, written out.
                switch (name)
                {
                    case "sgd":
                        w[i].sub_(g[i] * 0.05);
                        break;
                    case "momentum":
                        m[i].mul_(0.9).sub_(g[i] * 0.05);
                        w[i].add_(m[i]);
                        break;
                    case "nesterov":
                        m[i].mul_(0.8).sub_(g[i] * 0.05);
                        w[i].add_(m[i] * 0.8 - g[i] * 0.05);
                        break;
                    default:
                        m[i].add_((g[i] - m[i]) * (1 - 0.9));
                        v[i].add_((g[i].square() - v[i]) * (1 - 0.999));
                        var alpha = 0.01 * Math.Sqrt(1 - Math.Pow(0.999, step)) / (1 - Math.Pow(0.9, step));
                        w[i].sub_(m[i] * alpha / (v[i].sqrt() + 1e-7));
                        break;
                }
                var difference = (parameters[i].Value - w[i]).abs().max().item<double>();
                Assert.True(difference < 1e-12, $"{name} step {step}, {parameters[i]}: |difference| {difference}");
            }
        }
        Assert.Equal(2, trainer.Iterations);
        foreach (var t in w.Concat(m).Concat(v)) t.Dispose();
    }

    [Fact]
    public void Optimizer_NewLearningRate_KeepsMoments_NewKind_StartsAfresh()
    {
        using var source = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(), seed: 23);
        using var model = TrainingTestModels.ToDouble(source);
        var (x, y) = TrainingTestModels.SmallCnnData(8, seed: 24, ScalarType.Float64);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Adam(0.01) });
        var kernel = trainer.Parameters.Single(p => p.Layer.Name == "out" && p.Source.Name == "kernel").Value;
        using var scope = NewDisposeScope();

        var g1 = trainer.Gradients(x, y)[^2];
        trainer.TrainOnBatch(x, y);
        trainer.Optimizer = trainer.Optimizer.WithLearningRate(0.001);
        var w1 = kernel.detach().clone();
        var g2 = trainer.Gradients(x, y)[^2];
        trainer.TrainOnBatch(x, y);

        // Second Adam step with the first step's moments and t = 2, at the new learning rate.
        var m = g1 * 0.1 * 0.9 + g2 * 0.1;
        var v = g1.square() * 0.001 * 0.999 + g2.square() * 0.001;
        var expected = w1 - m * (0.001 * Math.Sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9)) / (v.sqrt() + 1e-7);
        Assert.True((kernel - expected).abs().max().item<double>() < 1e-12);
        Assert.Equal(2, trainer.Iterations);

        trainer.Optimizer = TrainingOptimizer.Sgd(0.5);
        Assert.Equal(0, trainer.Iterations);
        var w2 = kernel.detach().clone();
        var g3 = trainer.Gradients(x, y)[^2];
        trainer.TrainOnBatch(x, y);
        Assert.True((kernel - (w2 - g3 * 0.5)).abs().max().item<double>() < 1e-12);
    }

    [Fact]
    public void Adam_Defaults_AreKeras()
    {
        var adam = TrainingOptimizer.Adam();
        Assert.Equal((1e-3, 0.9, 0.999, 1e-7), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon));
        var sgd = TrainingOptimizer.Sgd();
        Assert.Equal((0.01, 0.0, false), (sgd.LearningRate, sgd.Momentum, sgd.Nesterov));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingOptimizer.Sgd(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingOptimizer.Sgd(0.1, momentum: 1));
    }

    [Fact]
    public void Constraint_MaxNorm_HoldsAfterEveryStep()
    {
        using var model = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(constraint: true), seed: 31);
        var (x, y) = TrainingTestModels.SmallCnnData(16, seed: 32);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Sgd(1.0) });

        trainer.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 8 });

        // MaxNorm(0.5, axis [0, 1, 2]): each output filter's norm over (h, w, in) is at most 0.5.
        using var trained = trainer.ToModel();
        using var norms = trained["conv"].FindWeight("kernel")!.Value.square().sum(new long[] { 0, 1, 2 }).sqrt();
        Assert.True(norms.max().item<float>() <= 0.5 + 1e-5, $"filter norms {string.Join(", ", norms.data<float>().ToArray())}");
    }
}
