using Surgeon.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>
/// In inference mode the trainable graph (weights in Keras layout, converted in the graph) computes what
/// <see cref="ModelRunner"/> computes (weights converted once, BatchNormalization folded), within 1e-5.
/// </summary>
public sealed class EvalEquivalenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    public static TheoryData<string> OracleModels() => new() { "lenet", "lenet_pruned", "functional_mix", "extras" };

    [SkippableTheory]
    [MemberData(nameof(OracleModels))]
    public void Predict_OracleModel_EqualsRunner(string name)
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        var dir = Path.Combine(SharedFixtures.OracleRoot, name);
        using var model = KerasFile.Load(dir);
        using var x = NpyFile.Read(Path.Combine(dir, "input.npy"));
        using var recorded = NpyFile.Read(Path.Combine(dir, "output.npy"));
        using var runner = ModelRunner.Create(model);
        using var trainer = ModelTrainer.Create(model);

        using var expected = runner.Predict(x);
        using var actual = trainer.Predict(x, batchSize: 3);

        var difference = (actual - expected).abs().max().item<float>();
        output.WriteLine($"{name}: max |trainer - runner| = {difference:E2}");
        Assert.True(difference <= Tolerance, $"{name}: max |trainer - runner| = {difference}");
        // And against the output TensorFlow.js recorded.
        Assert.True((actual - recorded).abs().max().item<float>() <= 1e-4);
    }

    [Fact]
    public void Predict_AfterTraining_EqualsRunnerOnTrainedModel()
    {
        // BatchNormalization's moving statistics move away from (0, 1) in training, so folding them matters.
        using var model = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(dropout: 0.3), seed: 3);
        var (x, y) = TrainingTestModels.SmallCnnData(64, seed: 4);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Sgd(0.1, momentum: 0.9) });
        trainer.Fit(x, y, new FitOptions { Epochs = 3, BatchSize = 16 });
        using var trained = trainer.ToModel();
        using var runner = ModelRunner.Create(trained);

        using var expected = runner.Predict(x);
        using var actual = trainer.Predict(x);

        Assert.True((actual - expected).abs().max().item<float>() <= Tolerance);
        var mean = trained["bn"].FindWeight("moving_mean")!.Value;
        Assert.True(mean.abs().max().item<float>() > 1e-3, "moving mean did not move");
    }

    [SkippableFact]
    public void Predict_EveryTrainableRealFixture_EqualsRunner()
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var checkedModels = new List<string>();
        var refused = new Dictionary<string, int>();
        foreach (var fixture in SharedFixtures.Models.Where(m => m.Id.StartsWith("real/", StringComparison.Ordinal)))
        {
            using var model = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });
            if (model.IsOpaque || model.Inputs.Count != 1 || model.Outputs.Count != 1) continue;
            ModelTrainer trainer;
            try
            {
                trainer = ModelTrainer.Create(model);
            }
            catch (SurgeonException e)
            {
                var cls = e.Message.Split('(', ')') is { Length: > 2 } parts ? parts[1] : e.Message;
                refused[cls] = refused.GetValueOrDefault(cls) + 1;
                if (cls is "Dense" or "Convolution2D") output.WriteLine(fixture.Id + ": " + e.Message);
                continue;
            }
            using (trainer)
            {
                var shape = Shapes.ShapeInference.InputShape(model[model.Inputs[0].Layer].ConfigNode);
                if (shape is null || shape.Skip(1).Any(d => d is null)) continue;
                using var g = new Generator(5, CPU);
                using var x = rand(new long[] { 2 }.Concat(shape.Skip(1).Select(d => (long)d!.Value)).ToArray(), generator: g);
                using var runner = ModelRunner.Create(model);
                using var expected = runner.Predict(x);
                using var actual = trainer.Predict(x);
                var scale = Math.Max(1, expected.abs().max().item<float>());
                var difference = (actual - expected).abs().max().item<float>();
                Assert.True(difference <= Tolerance * scale, $"{fixture.Id}: max |trainer - runner| = {difference} (scale {scale})");
                checkedModels.Add(fixture.Id);
            }
        }
        output.WriteLine($"{checkedModels.Count} real models equal the runner: {string.Join(", ", checkedModels)}");
        output.WriteLine("refused (by class): " + string.Join(", ", refused.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} x{kv.Value}")));
        Assert.True(checkedModels.Count >= 5, $"only {checkedModels.Count} real models could be compared");
    }
}
