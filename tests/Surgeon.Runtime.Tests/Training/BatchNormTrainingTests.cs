using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Surgery;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>BatchNormalization in training: Keras's moving-average update, and frozen layers in inference mode.</summary>
public sealed class BatchNormTrainingTests
{
    private const double Momentum = 0.8;
    private const double Epsilon = 0.001;

    private static string Model(bool bnTrainable, int axis = -1)
    {
        var b = new KerasModelBuilder("bn_model");
        var x = b.Input("input", 4, 4, 3);
        var bn = b.Layer("BatchNormalization", "bn", new JsonObject { ["axis"] = axis, ["momentum"] = Momentum, ["epsilon"] = Epsilon, ["center"] = true, ["scale"] = true }, x);
        var flat = b.Layer("Flatten", "flat", new JsonObject(), bn);
        var output = b.Layer("Dense", "out", new JsonObject { ["units"] = 2, ["activation"] = "softmax", ["use_bias"] = true }, flat);
        var json = JsonNode.Parse(b.Build(output))!;
        foreach (var layer in json["config"]!["layers"]!.AsArray())
        {
            if (layer!["class_name"]!.GetValue<string>() == "BatchNormalization") layer["config"]!["trainable"] = bnTrainable;
        }
        return json.ToJsonString();
    }

    /// <summary>A model with moving statistics away from their (0, 1) initial values.</summary>
    private static KerasModel Create(bool bnTrainable, int axis = -1)
    {
        var model = KerasFile.CreateFromArchitecture(Model(bnTrainable, axis), seed: 41);
        using (no_grad())
        {
            model["bn"].FindWeight("moving_mean")!.Value.copy_(tensor(new float[] { 0.5f, -1f, 2f }));
            model["bn"].FindWeight("moving_variance")!.Value.copy_(tensor(new float[] { 1.5f, 0.25f, 4f }));
            model["bn"].FindWeight("gamma")!.Value.copy_(tensor(new float[] { 1.2f, 0.7f, 1f }));
        }
        return model;
    }

    private static (Tensor X, Tensor Y) Data()
    {
        using var g = new Generator(42, CPU);
        return (randn(new long[] { 8, 4, 4, 3 }, generator: g) * 3 + 1, randint(0, 2, new long[] { 8 }, dtype: ScalarType.Int64, generator: g));
    }

    [Theory]
    [InlineData(MovingVarianceUpdate.Biased)]
    [InlineData(MovingVarianceUpdate.Unbiased)]
    public void TrainOnBatch_UpdatesMovingStatistics_ByKerasFormula(MovingVarianceUpdate mode)
    {
        using var model = Create(bnTrainable: true);
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { MovingVariance = mode, Optimizer = TrainingOptimizer.Sgd(0.1) });
        Assert.Equal(mode == MovingVarianceUpdate.Unbiased, trainer.UnbiasedMovingVariance);

        trainer.TrainOnBatch(x, y);

        using var trained = trainer.ToModel();
        var axes = new long[] { 0, 1, 2 };
        var n = 8.0 * 4 * 4;
        using var batchMean = x.to_type(ScalarType.Float64).mean(axes);
        using var batchVariance = x.to_type(ScalarType.Float64).var(axes, unbiased: false);
        using var corrected = mode == MovingVarianceUpdate.Unbiased ? batchVariance * (n / (n - (1 + Epsilon))) : batchVariance.alias();
        using var oldMean = tensor(new double[] { 0.5, -1, 2 });
        using var oldVariance = tensor(new double[] { 1.5, 0.25, 4 });
        using var expectedMean = oldMean * Momentum + batchMean * (1 - Momentum);
        using var expectedVariance = oldVariance * Momentum + corrected * (1 - Momentum);
        var mean = trained["bn"].FindWeight("moving_mean")!.Value.to_type(ScalarType.Float64);
        var variance = trained["bn"].FindWeight("moving_variance")!.Value.to_type(ScalarType.Float64);
        Assert.True((mean - expectedMean).abs().max().item<double>() < 1e-5, $"moving mean {Show(mean)} vs {Show(expectedMean)}");
        Assert.True((variance - expectedVariance).abs().max().item<double>() < 1e-5, $"moving variance {Show(variance)} vs {Show(expectedVariance)}");
        // gamma and beta are trained; the input model is not touched.
        Assert.False(trained["bn"].FindWeight("beta")!.Value.abs().max().item<float>() == 0);
        Assert.Equal(0f, model["bn"].FindWeight("beta")!.Value.abs().max().item<float>());
    }

    private static string Show(Tensor t) => string.Join(", ", t.to_type(ScalarType.Float64).data<double>().ToArray().Select(d => d.ToString("G6")));

    [Fact]
    public void Training_NormalizesWithBatchStatistics_ChannelsFirstAxis()
    {
        // axis=1 on (N, 4, 4, 3): the "channels" are the 4 rows; statistics over N, W and the last axis.
        using var model = KerasFile.CreateFromArchitecture(Model(bnTrainable: true, axis: 1), seed: 43);
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { MovingVariance = MovingVarianceUpdate.Biased });

        trainer.TrainOnBatch(x, y);

        using var trained = trainer.ToModel();
        using var expected = x.mean(new long[] { 0, 2, 3 }) * (1 - 0.8);
        Assert.True((trained["bn"].FindWeight("moving_mean")!.Value - expected).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void FrozenBatchNorm_RunsInInferenceMode_AndKeepsEveryWeight()
    {
        using var model = Create(bnTrainable: false);
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Sgd(0.5) });

        // Training and inference losses agree: the frozen layer normalises with its moving statistics.
        using (var training = trainer.Loss(x, y, training: true))
        using (var inference = trainer.Loss(x, y, training: false))
            Assert.Equal(inference.item<float>(), training.item<float>(), 6);
        trainer.Fit(x, y, new FitOptions { Epochs = 3, BatchSize = 4 });

        using var trained = trainer.ToModel();
        foreach (var w in model["bn"].Weights)
            Assert.True(trained["bn"].FindWeight(w.Name)!.Value.equal(w.Value).all().item<bool>(), $"frozen {w.Name} changed");
        Assert.False(trained["out"].FindWeight("kernel")!.Value.equal(model["out"].FindWeight("kernel")!.Value).all().item<bool>(), "the trainable Dense did not train");
        Assert.Equal(2 + 48 * 2, trainer.TrainableParameterCount);
    }

    [Theory]
    [InlineData("2.2.4", null, true)]
    [InlineData("2.1.3", "tensorflow", true)]
    [InlineData("2.3.1", "theano", true)]
    [InlineData("2.1.2", "tensorflow", false)]
    [InlineData("2.2.4-tf", "tensorflow", false)]
    [InlineData("2.4.0", "tensorflow", false)]
    [InlineData("2.15.0", "tensorflow", false)]
    [InlineData("3.3.3", "tensorflow", false)]
    [InlineData("1.2.2", "tensorflow", false)]
    [InlineData("2.2.4", "cntk", false)]
    [InlineData(null, null, false)]
    public void MovingVarianceAuto_FollowsTheKerasThatSavedTheFile(string? version, string? backend, bool unbiased) =>
        Assert.Equal(unbiased, ModelTrainer.IsStandaloneKeras2(new ModelSource(null, ModelFormat.LegacyHdf5, version, backend)));
}
