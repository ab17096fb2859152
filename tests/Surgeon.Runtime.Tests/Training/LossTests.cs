using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Surgery;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>Losses and accuracy as Keras computes them, and the softmax-logits detection.</summary>
public sealed class LossTests
{
    /// <summary>Input (4) -> Dense(3, activation) [-> Activation or Softmax layer], weights scaled by <paramref name="scale"/>.</summary>
    private static KerasModel Model(string denseActivation, string? finalLayer = null, double scale = 1)
    {
        var b = new KerasModelBuilder("loss_model");
        var x = b.Input("input", 4);
        var last = b.Layer("Dense", "dense", new JsonObject { ["units"] = 3, ["activation"] = denseActivation, ["use_bias"] = true }, x);
        if (finalLayer == "Activation") last = b.Layer("Activation", "act", new JsonObject { ["activation"] = "softmax" }, last);
        if (finalLayer == "Softmax") last = b.Layer("Softmax", "softmax", new JsonObject { ["axis"] = -1 }, last);
        var model = KerasFile.CreateFromArchitecture(b.Build(last), seed: 71);
        using (no_grad()) model["dense"].FindWeight("kernel")!.Value.mul_(scale);
        return model;
    }

    private static (Tensor X, Tensor Y) Data()
    {
        using var g = new Generator(72, CPU);
        return (randn(new long[] { 10, 4 }, generator: g), randint(0, 3, new long[] { 10 }, dtype: ScalarType.Int64, generator: g));
    }

    [Theory]
    [InlineData("softmax", null)]
    [InlineData("linear", "Activation")]
    [InlineData("linear", "Softmax")]
    public void SparseCrossentropy_OnSoftmaxOutput_EqualsKerasProbabilityFormula(string activation, string? finalLayer)
    {
        using var model = Model(activation, finalLayer);
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model);
        using var p = trainer.Predict(x);

        var evaluation = trainer.Evaluate(x, y);

        // -mean(log(clip(p[y], 1e-7, 1 - 1e-7))), and accuracy = mean(argmax p == y).
        using var picked = p.gather(1, y.unsqueeze(1)).clamp(1e-7, 1 - 1e-7);
        var expected = -picked.log().mean().item<float>();
        Assert.Equal(expected, evaluation.Loss, 5);
        Assert.Equal(p.argmax(1).eq(y).to_type(ScalarType.Float32).mean().item<float>(), evaluation.Accuracy!.Value, 6);
        Assert.Equal(10, evaluation.Samples);
    }

    [Theory]
    [InlineData("softmax", null)]
    [InlineData("linear", "Activation")]
    public void SparseCrossentropy_SaturatedSoftmax_UsesLogits(string activation, string? finalLayer)
    {
        // Huge logits: the probability formula would clip at -log(1e-7) = 16.1; the logits give the exact value and
        // finite gradients.
        using var model = Model(activation, finalLayer, scale: 2000);
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Sgd(1e-6) });
        using var logitsModel = Model("linear", null, scale: 2000);
        using var logitsTrainer = ModelTrainer.Create(logitsModel);
        using var logits = logitsTrainer.Predict(x);
        using var exact = -logits.log_softmax(1).gather(1, y.unsqueeze(1)).mean();

        var evaluation = trainer.Evaluate(x, y);
        var (loss, _) = trainer.TrainOnBatch(x, y);

        Assert.True(evaluation.Loss > 17, $"loss {evaluation.Loss} looks clipped");
        Assert.Equal(exact.item<float>(), evaluation.Loss, 2);
        Assert.Equal(evaluation.Loss, loss, 3);
        using var trained = trainer.ToModel();
        Assert.False(trained["dense"].FindWeight("kernel")!.Value.isnan().any().item<bool>());
    }

    [Fact]
    public void FromLogits_AndCategorical_AndMse()
    {
        using var model = Model("linear");
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var oneHot = nn.functional.one_hot(y, 3).to_type(ScalarType.Float32);
        using var logitsTrainer = ModelTrainer.Create(model, new TrainerOptions { Loss = TrainingLoss.SparseCategoricalCrossentropy(fromLogits: true) });
        using var categorical = ModelTrainer.Create(model, new TrainerOptions { Loss = TrainingLoss.CategoricalCrossentropy(fromLogits: true) });
        using var mse = ModelTrainer.Create(model, new TrainerOptions { Loss = TrainingLoss.MeanSquaredError() });
        using var z = logitsTrainer.Predict(x);

        var sparse = logitsTrainer.Evaluate(x, y);
        var dense = categorical.Evaluate(x, oneHot);
        var squared = mse.Evaluate(x, oneHot);

        Assert.Equal(-z.log_softmax(1).gather(1, y.unsqueeze(1)).mean().item<float>(), sparse.Loss, 5);
        Assert.Equal(sparse.Loss, dense.Loss, 6);
        Assert.Equal(sparse.Accuracy, dense.Accuracy);
        Assert.Equal((z - oneHot).square().mean().item<float>(), squared.Loss, 5);
        Assert.Null(squared.Accuracy);
        using var none = x[..0];
        using var empty = mse.Predict(none);
        Assert.Equal(new long[] { 0, 3 }, empty.shape);
        // Labels as (N, 1), as Keras accepts them.
        Assert.Equal(sparse.Loss, logitsTrainer.Evaluate(x, y.unsqueeze(1)).Loss, 6);
    }

    [Fact]
    public void CategoricalCrossentropy_OnProbabilitiesWithoutSoftmax_ClipsAsKeras()
    {
        // A sigmoid output is not a softmax: Keras rescales to sum 1, clips and takes the log.
        using var model = Model("sigmoid");
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var oneHot = nn.functional.one_hot(y, 3).to_type(ScalarType.Float32);
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Loss = TrainingLoss.CategoricalCrossentropy() });
        using var p = trainer.Predict(x);

        var evaluation = trainer.Evaluate(x, oneHot);

        using var normalised = (p / p.sum(1, keepdim: true)).clamp(1e-7, 1 - 1e-7);
        Assert.Equal(-(oneHot * normalised.log()).sum(1).mean().item<float>(), evaluation.Loss, 5);
    }

    [Fact]
    public void Targets_WrongShape_ClearError()
    {
        using var model = Model("softmax");
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Loss = TrainingLoss.CategoricalCrossentropy() });
        using var shortY = y[..5];

        Assert.Contains("10 samples but targets have 5", Assert.Throws<ArgumentException>(() => trainer.Evaluate(x, shortY)).Message);
        Assert.Contains("SparseCategoricalCrossentropy", Assert.Throws<ArgumentException>(() => trainer.Evaluate(x, y)).Message);
    }
}
