using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>A Sequential model used as a layer trains inside its parent; a frozen one keeps its weights.</summary>
public sealed class NestedModelTrainingTests
{
    // x -> pre (Dense 4) -> tower (Sequential: d1 Dense 5 relu, bn) -> head (Dense 3 softmax)
    private static string Json(bool towerTrainable) => """
        {"class_name": "Functional", "config": {"name": "outer", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "pre", "config": {"name": "pre", "units": 4, "activation": "tanh"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Sequential", "name": "tower", "config": {"name": "tower", "trainable": TRAINABLE, "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "tower_in"}},
              {"class_name": "Dense", "config": {"name": "d1", "units": 5, "activation": "relu"}},
              {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1, "momentum": 0.9, "epsilon": 0.001}}]},
           "inbound_nodes": [[["pre", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "head", "config": {"name": "head", "units": 3, "activation": "softmax"}, "inbound_nodes": [[["tower", 1, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["head", 0, 0]]}}
        """.Replace("TRAINABLE", towerTrainable ? "true" : "false", StringComparison.Ordinal);

    private static (Tensor X, Tensor Y) Data()
    {
        using var g = new Generator(81, CPU);
        return (randn(new long[] { 32, 4 }, generator: g), randint(0, 3, new long[] { 32 }, dtype: ScalarType.Int64, generator: g));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NestedSequential_TrainsOrStaysFrozen_AndSavesAsH5(bool towerTrainable)
    {
        using var model = KerasFile.CreateFromArchitecture(Json(towerTrainable), seed: 82);
        var (x, y) = Data();
        using var _x = x;
        using var _y = y;
        using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Sgd(0.1) });

        trainer.Fit(x, y, new FitOptions { Epochs = 2, BatchSize = 8 });
        using var trained = trainer.ToModel();

        var before = model["tower"].NestedModel!;
        var after = trained["tower"].NestedModel!;
        foreach (var (layer, weight) in before.AllWeights())
        {
            var same = after[layer.Name].FindWeight(weight.Name)!.Value.equal(weight.Value).all().item<bool>();
            Assert.True(same != towerTrainable, $"{layer.Name}/{weight.Name} {(towerTrainable ? "did not train" : "changed while frozen")}");
        }
        Assert.False(trained["head"].FindWeight("kernel")!.Value.equal(model["head"].FindWeight("kernel")!.Value).all().item<bool>());
        using var dir = new TempDir();
        KerasFile.Save(trained, dir.File("nested.h5"));
        using var reloaded = KerasFile.Load(dir.File("nested.h5"));
        Assert.Null(ModelComparison.FindDifference(trained, reloaded));
        using var runner = ModelRunner.Create(reloaded);
        using var expected = runner.Predict(x);
        using var actual = trainer.Predict(x);
        Assert.True((actual - expected).abs().max().item<float>() <= 1e-5);
    }
}
