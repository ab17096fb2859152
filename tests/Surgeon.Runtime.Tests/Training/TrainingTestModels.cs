using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Infrastructure;
using Surgeon.Runtime.Tests.Surgery;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>Small models and data for the trainer's tests.</summary>
internal static class TrainingTestModels
{
    /// <summary>Under CI=true a missing data set fails the test instead of skipping it.</summary>
    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips the calling test (or fails it under CI) when Fashion-MNIST is not installed.</summary>
    public static void RequireFashionMnist()
    {
        if (FashionMnist.IsAvailable()) return;
        var reason = $"Fashion-MNIST not found in {FashionMnist.DefaultDirectory} (install the Debian package dataset-fashion-mnist; build/install-prerequisites.sh does).";
        if (IsCi) throw new InvalidOperationException("Test data missing under CI: " + reason);
        Skip.If(true, reason);
    }

    /// <summary>The oracle LeNet-5 (28x28x1 input, conv-pool-conv-pool-dense-dropout-dense softmax).</summary>
    public static KerasModel LoadLenet()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        return KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
    }

    /// <summary>The committed LeNet of samples/models (same architecture as the oracle one), present in every clone.</summary>
    public static KerasModel LoadSampleLenet() => KerasFile.Load(Path.Combine(SharedFixtures.RepoRoot, "samples", "models", "lenet.h5"));

    /// <summary>A copy of <paramref name="model"/> with float64 weights (for finite differences).</summary>
    public static KerasModel ToDouble(KerasModel model) => ModelCopy.Map(model, t => t.to_type(ScalarType.Float64));

    /// <summary>
    /// A small CNN exercising most trainable ops: TF SAME padding with stride 2 (asymmetric), BatchNormalization, ReLU,
    /// depthwise and separable convolutions, a residual Add, Concatenate, pooling, an L2 regularizer and a softmax Dense.
    /// </summary>
    public static string SmallCnn(double dropout = 0, bool constraint = false)
    {
        var b = new KerasModelBuilder("small_cnn");
        var x = b.Input("input", 7, 7, 2);
        var convConfig = new JsonObject { ["filters"] = 4, ["kernel_size"] = new JsonArray(3, 3), ["strides"] = new JsonArray(2, 2), ["padding"] = "same", ["activation"] = "linear", ["use_bias"] = true };
        if (constraint) convConfig["kernel_constraint"] = new JsonObject { ["class_name"] = "MaxNorm", ["config"] = new JsonObject { ["max_value"] = 0.5, ["axis"] = new JsonArray(0, 1, 2) } };
        var c1 = b.Layer("Conv2D", "conv", convConfig, x);
        var bn = b.Layer("BatchNormalization", "bn", new JsonObject { ["axis"] = -1, ["momentum"] = 0.9, ["epsilon"] = 0.001, ["center"] = true, ["scale"] = true }, c1);
        var r = b.Layer("ReLU", "relu", new JsonObject(), bn);
        var dw = b.Layer("DepthwiseConv2D", "dw", new JsonObject { ["kernel_size"] = new JsonArray(3, 3), ["padding"] = "same", ["depth_multiplier"] = 1, ["activation"] = "tanh", ["use_bias"] = true }, r);
        var add = b.Layer("Add", "add", new JsonObject(), r, dw);
        var sep = b.Layer("SeparableConv2D", "sep", new JsonObject { ["filters"] = 3, ["kernel_size"] = new JsonArray(2, 2), ["padding"] = "valid", ["depth_multiplier"] = 2, ["activation"] = "elu", ["use_bias"] = true }, add);
        var pool = b.Layer("MaxPooling2D", "pool", new JsonObject { ["pool_size"] = new JsonArray(2, 2), ["strides"] = new JsonArray(1, 1), ["padding"] = "same" }, sep);
        var gap = b.Layer("GlobalAveragePooling2D", "gap", new JsonObject(), pool);
        var flat = b.Layer("Flatten", "flat", new JsonObject(), pool);
        var cat = b.Layer("Concatenate", "cat", new JsonObject { ["axis"] = -1 }, gap, flat);
        var last = cat;
        if (dropout > 0) last = b.Layer("Dropout", "drop", new JsonObject { ["rate"] = dropout }, cat);
        var outputs = b.Layer("Dense", "out", new JsonObject
        {
            ["units"] = 3, ["activation"] = "softmax", ["use_bias"] = true,
            ["kernel_regularizer"] = new JsonObject { ["class_name"] = "L2", ["config"] = new JsonObject { ["l2"] = 0.01 } },
        }, last);
        return b.Build(outputs);
    }

    /// <summary>Random inputs and labels for <see cref="SmallCnn"/>.</summary>
    public static (Tensor X, Tensor Y) SmallCnnData(int n, long seed, ScalarType dtype = ScalarType.Float32)
    {
        using var g = new Generator((ulong)seed, CPU);
        var x = randn(new long[] { n, 7, 7, 2 }, dtype: dtype, generator: g);
        var y = randint(0, 3, new long[] { n }, dtype: ScalarType.Int64, generator: g);
        return (x, y);
    }
}
