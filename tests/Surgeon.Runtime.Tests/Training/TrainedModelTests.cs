using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Infrastructure;
using Surgeon.Runtime.Tests.Surgery;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>
/// Trained models save and reload identically; the input model never changes; unsupported layers are named up front;
/// nothing leaks.
/// </summary>
public sealed class TrainedModelTests
{
    public static TheoryData<string> Extensions() => new() { ".h5", ".keras" };

    [Theory]
    [MemberData(nameof(Extensions))]
    public void TrainedLenet_SavesAndReloadsIdentically_InputModelUnchanged(string extension)
    {
        using var model = TrainingTestModels.LoadSampleLenet();
        using var snapshot = ModelCopy.Map(model, t => t.clone());
        using var g = new Generator(51, CPU);
        using var x = rand(new long[] { 32, 28, 28, 1 }, generator: g);
        using var y = randint(0, 10, new long[] { 32 }, dtype: ScalarType.Int64, generator: g);
        using var trainer = ModelTrainer.Create(model);

        trainer.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 8 });
        using var trained = trainer.ToModel();
        using var dir = new TempDir();
        var path = dir.File("trained" + extension);
        KerasFile.Save(trained, path);
        using var reloaded = KerasFile.Load(path);

        Assert.Null(ModelComparison.FindDifference(model, snapshot));
        Assert.Equal("conv2d_Conv2D1/kernel has different values", ModelComparison.FindDifference(model, trained));
        Assert.Null(ModelComparison.FindDifference(trained, reloaded, extension == ".h5" ? ComparisonMode.Exact : ComparisonMode.Graph));
        Assert.Equal(model.ToJson(), trained.ToJson());
        // The reloaded file computes what the trainer computes.
        using var runner = ModelRunner.Create(reloaded);
        using var expected = trainer.Predict(x);
        using var actual = runner.Predict(x);
        Assert.True((actual - expected).abs().max().item<float>() <= 1e-5);
    }

    [Fact]
    public void TrainedBatchNormModel_SavesMovingStatistics()
    {
        using var model = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(dropout: 0.2), seed: 52);
        var (x, y) = TrainingTestModels.SmallCnnData(32, seed: 53);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model);
        trainer.Fit(x, y, new FitOptions { Epochs = 1, BatchSize = 8 });
        using var trained = trainer.ToModel();
        using var dir = new TempDir();

        KerasFile.Save(trained, dir.File("bn.keras"));
        using var reloaded = KerasFile.Load(dir.File("bn.keras"));

        Assert.Null(ModelComparison.FindDifference(trained, reloaded, ComparisonMode.Graph));
        Assert.False(reloaded["bn"].FindWeight("moving_variance")!.Value.equal(model["bn"].FindWeight("moving_variance")!.Value).all().item<bool>());
    }

    [Fact]
    public void Create_UnsupportedLayer_NamesLayerAndClass()
    {
        var b = new KerasModelBuilder("rnn");
        var x = b.Input("input", 5, 3);
        var lstm = b.Layer("LSTM", "my_lstm", new JsonObject { ["units"] = 4, ["activation"] = "tanh", ["recurrent_activation"] = "sigmoid", ["use_bias"] = true, ["return_sequences"] = false }, x);
        var output = b.Layer("Dense", "out", new JsonObject { ["units"] = 2, ["activation"] = "softmax", ["use_bias"] = true }, lstm);
        using var model = KerasFile.CreateFromArchitecture(b.Build(output), seed: 1);

        var e = Assert.Throws<SurgeonException>(() => ModelTrainer.Create(model));

        Assert.Contains("'my_lstm' (LSTM)", e.Message);
        Assert.Contains("cannot be trained", e.Message);
    }

    [Fact]
    public void Create_LambdaLayer_SaysWhy()
    {
        var b = new KerasModelBuilder("lambda");
        var x = b.Input("input", 3);
        var dense = b.Layer("Dense", "dense", new JsonObject { ["units"] = 2, ["use_bias"] = true }, x);
        var output = b.Layer("Lambda", "double_it", new JsonObject { ["function"] = "4wEAAAAAAAAAAQAAAAIAAABDAAAAcwgAAAB8AGQBFABTACkCTukCAAAAqQApAdoBeHIBAAAAcgEAAAD6AAAA", ["function_type"] = "lambda" }, dense);
        using var model = KerasFile.CreateFromArchitecture(b.Build(output), seed: 1);

        var e = Assert.Throws<SurgeonException>(() => ModelTrainer.Create(model));

        Assert.Contains("'double_it' (Lambda)", e.Message);
        Assert.Contains("Python code", e.Message);
    }

    [SkippableFact]
    public void Create_TransposedConvolution_IsRefusedBeforeAnyWork()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "conv_misc"));

        var e = Assert.Throws<SurgeonException>(() => ModelTrainer.Create(model));

        Assert.Contains("'conv2d_transpose_Conv2DTranspose1' (Conv2DTranspose)", e.Message);
    }

    [Fact]
    public void Create_TwoOutputs_IsRefused()
    {
        var b = new KerasModelBuilder("two");
        var x = b.Input("input", 3);
        var a = b.Layer("Dense", "a", new JsonObject { ["units"] = 2, ["use_bias"] = true }, x);
        var c = b.Layer("Dense", "c", new JsonObject { ["units"] = 2, ["use_bias"] = true }, x);
        using var model = KerasFile.CreateFromArchitecture(b.Build(a, c), seed: 1);

        var e = Assert.Throws<SurgeonException>(() => ModelTrainer.Create(model));

        Assert.Contains("one input and one output", e.Message);
    }

    [Fact]
    public void Fit_Cancelled_StopsBeforeTheNextBatch()
    {
        using var model = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(), seed: 54);
        var (x, y) = TrainingTestModels.SmallCnnData(64, seed: 55);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model);
        using var cancel = new CancellationTokenSource();
        var reports = new List<EpochReport>();
        var progress = new SynchronousProgress(r =>
        {
            reports.Add(r);
            cancel.Cancel();
        });

        Assert.Throws<OperationCanceledException>(() => trainer.Fit(x, y, new FitOptions { Epochs = 3, BatchSize = 16 }, progress, cancel.Token));

        var report = Assert.Single(reports);
        Assert.Equal((1, 3, 4), (report.Epoch, report.Epochs, report.Steps));
        Assert.Equal(4, trainer.Iterations);
        Assert.True(report.Seconds > 0);
    }

    [Fact]
    public void Fit_SameSeed_SameWeights_DropoutIncluded()
    {
        using var model = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(dropout: 0.5), seed: 56);
        var (x, y) = TrainingTestModels.SmallCnnData(40, seed: 57);
        using var _x = x;
        using var _y = y;
        KerasModel Train(long seed)
        {
            using var trainer = ModelTrainer.Create(model);
            trainer.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 16, Seed = seed });
            return trainer.ToModel();
        }

        using var a = Train(1);
        using var b = Train(1);
        using var c = Train(2);

        Assert.Null(ModelComparison.FindDifference(a, b));
        Assert.NotNull(ModelComparison.FindDifference(a, c));
    }

    /// <summary>IProgress that reports on the calling thread (System.Progress posts to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<EpochReport> report) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => report(value);
    }
}

/// <summary>Training steps leave no tensor behind (TorchSharp's per-thread live-tensor statistics).</summary>
[Collection("Sequential")]
public sealed class TrainingLifetimeTests
{
    [Fact]
    public void ManySteps_LeaveLiveTensorCountUnchanged()
    {
        using var model = KerasFile.CreateFromArchitecture(TrainingTestModels.SmallCnn(dropout: 0.3, constraint: true), seed: 61);
        var (x, y) = TrainingTestModels.SmallCnnData(24, seed: 62);
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model);
        using var xb = x[..8].clone();
        using var yb = y[..8].clone();
        trainer.TrainOnBatch(xb, yb); // creates the optimizer's slots

        var stats = TorchSharp.DisposeScopeManager.Statistics;
        stats.Reset();
        var before = stats.ThreadTotalLiveCount;
        for (var i = 0; i < 150; i++) trainer.TrainOnBatch(xb, yb);
        for (var i = 0; i < 2; i++) trainer.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 8, ValidationX = x, ValidationY = y });
        for (var i = 0; i < 10; i++) trainer.Evaluate(x, y, batchSize: 5);
        for (var i = 0; i < 20; i++)
        {
            using var p = trainer.Predict(x, batchSize: 7);
        }
        using (var trained = trainer.ToModel()) { }
        using (var second = ModelTrainer.Create(model)) second.TrainOnBatch(xb, yb);

        Assert.Equal(before, stats.ThreadTotalLiveCount);
    }
}
