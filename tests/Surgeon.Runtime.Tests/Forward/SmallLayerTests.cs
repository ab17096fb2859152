using System.Text.Json.Nodes;
using static Surgeon.Runtime.Tests.Forward.ReferenceModels;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>
/// The remaining layers against element-wise references computed on float arrays, and the 1D/3D variants of
/// convolution and pooling against the 2D kernels the loop references verify (a 1D or 3D layer whose extra axes have
/// size 1 must equal the 2D computation).
/// </summary>
public sealed class SmallLayerTests
{
    private static Tensor Input(long[] shape, int seed) => rand(shape, generator: new Generator((ulong)seed)) * 4 - 2;

    private static float[] Apply(string cls, JsonObject config, Tensor x)
    {
        using var model = Single(cls, config, x.shape[1..]);
        Randomize(model, 5);
        return Run(model, x).Values;
    }

    [Theory]
    [InlineData("Dropout")]
    [InlineData("SpatialDropout1D")]
    [InlineData("GaussianNoise")]
    [InlineData("GaussianDropout")]
    [InlineData("AlphaDropout")]
    [InlineData("ActivityRegularization")]
    public void NoiseAndDropout_AtInference_AreIdentity(string cls)
    {
        using var x = Input(new long[] { 2, 3, 4 }, 1);
        AssertClose(Values(x), Apply(cls, new JsonObject { ["rate"] = 0.5, ["stddev"] = 0.3 }, x), cls, 0);
    }

    [Fact]
    public void ReLU_MaxValueSlopeThreshold_MatchesKerasFormula()
    {
        using var x = Input(new long[] { 2, 8 }, 2);
        var actual = Apply("ReLU", new JsonObject { ["max_value"] = 1.5, ["negative_slope"] = 0.1, ["threshold"] = 0.5 }, x);
        var expected = Values(x).Select(v => v >= 1.5f ? 1.5f : v >= 0.5f ? v : 0.1f * (v - 0.5f)).ToArray();
        AssertClose(expected, actual, "ReLU");
    }

    [Fact]
    public void ThresholdedReLUAndElu_MatchFormulas()
    {
        using var x = Input(new long[] { 2, 8 }, 3);
        AssertClose(Values(x).Select(v => v > 0.7f ? v : 0f).ToArray(), Apply("ThresholdedReLU", new JsonObject { ["theta"] = 0.7 }, x), "ThresholdedReLU");
        AssertClose(Values(x).Select(v => v > 0 ? v : (float)(0.5 * (Math.Exp(v) - 1))).ToArray(), Apply("ELU", new JsonObject { ["alpha"] = 0.5 }, x), "ELU");
    }

    [Fact]
    public void Softmax_Axis1_NormalisesOverThatAxis()
    {
        using var x = Input(new long[] { 2, 3, 4 }, 4);
        var actual = Apply("Softmax", new JsonObject { ["axis"] = 1 }, x);
        var xs = Values(x);
        var expected = new float[xs.Length];
        for (var n = 0; n < 2; n++)
        for (var c = 0; c < 4; c++)
        {
            var idx = Enumerable.Range(0, 3).Select(t => (n * 3 + t) * 4 + c).ToArray();
            var max = idx.Max(i => xs[i]);
            var sum = idx.Sum(i => Math.Exp(xs[i] - max));
            foreach (var i in idx) expected[i] = (float)(Math.Exp(xs[i] - max) / sum);
        }
        AssertClose(expected, actual, "Softmax axis 1");
    }

    [Fact]
    public void UnitNormalizationRescalingNormalization_MatchFormulas()
    {
        using var x = Input(new long[] { 2, 5 }, 6);
        var xs = Values(x);
        var unit = xs.Select((v, i) => (float)(v / Math.Sqrt(xs.Skip(i / 5 * 5).Take(5).Sum(u => u * u)))).ToArray();
        AssertClose(unit, Apply("UnitNormalization", new JsonObject { ["axis"] = -1 }, x), "UnitNormalization");
        AssertClose(xs.Select(v => v * 0.5f + 3f).ToArray(), Apply("Rescaling", new JsonObject { ["scale"] = 0.5, ["offset"] = 3.0 }, x), "Rescaling");
        var normalization = new JsonObject { ["axis"] = -1, ["mean"] = new JsonArray(1, 2, 3, 4, 5), ["variance"] = new JsonArray(4, 4, 1, 0.25, 1e-20) };
        var mean = new[] { 1f, 2, 3, 4, 5 };
        var std = new[] { 2f, 2, 1, 0.5f, 1e-7f };
        AssertClose(xs.Select((v, i) => (v - mean[i % 5]) / std[i % 5]).ToArray(), Apply("Normalization", normalization, x), "Normalization", 1e-2);
    }

    [Fact]
    public void RepeatVector_RepeatsFeatures()
    {
        using var x = Input(new long[] { 2, 3 }, 7);
        var xs = Values(x);
        var expected = Enumerable.Range(0, 2).SelectMany(n => Enumerable.Range(0, 4).SelectMany(_ => xs.Skip(n * 3).Take(3))).ToArray();
        AssertClose(expected, Apply("RepeatVector", new JsonObject { ["n"] = 4 }, x), "RepeatVector", 0);
    }

    [Fact]
    public void PaddingCroppingUpSampling1D_MatchIndexMaps()
    {
        using var x = Input(new long[] { 1, 5, 2 }, 8);
        var xs = Values(x);
        float At(int t, int c) => t < 0 || t >= 5 ? 0 : xs[t * 2 + c];
        AssertClose(Enumerable.Range(0, 8).SelectMany(t => new[] { At(t - 2, 0), At(t - 2, 1) }).ToArray(), Apply("ZeroPadding1D", new JsonObject { ["padding"] = new JsonArray(2, 1) }, x), "ZeroPadding1D", 0);
        AssertClose(Enumerable.Range(1, 3).SelectMany(t => new[] { At(t, 0), At(t, 1) }).ToArray(), Apply("Cropping1D", new JsonObject { ["cropping"] = new JsonArray(1, 1) }, x), "Cropping1D", 0);
        AssertClose(Enumerable.Range(0, 15).SelectMany(t => new[] { At(t / 3, 0), At(t / 3, 1) }).ToArray(), Apply("UpSampling1D", new JsonObject { ["size"] = 3 }, x), "UpSampling1D", 0);
    }

    [Fact]
    public void PaddingCroppingUpSampling3D_MatchIndexMaps()
    {
        using var x = Input(new long[] { 1, 2, 3, 2, 1 }, 9);
        var xs = Values(x);
        float At(int d, int h, int w) => d < 0 || d >= 2 || h < 0 || h >= 3 || w < 0 || w >= 2 ? 0 : xs[(d * 3 + h) * 2 + w];
        var padded = new List<float>();
        for (var d = 0; d < 4; d++) for (var h = 0; h < 3; h++) for (var w = 0; w < 4; w++) padded.Add(At(d - 1, h, w - 1));
        AssertClose(padded.ToArray(), Apply("ZeroPadding3D", new JsonObject { ["padding"] = new JsonArray(new JsonArray(1, 1), new JsonArray(0, 0), new JsonArray(1, 1)) }, x), "ZeroPadding3D", 0);
        var cropped = new List<float>();
        for (var d = 0; d < 2; d++) for (var h = 1; h < 2; h++) for (var w = 0; w < 2; w++) cropped.Add(At(d, h, w));
        AssertClose(cropped.ToArray(), Apply("Cropping3D", new JsonObject { ["cropping"] = new JsonArray(new JsonArray(0, 0), new JsonArray(1, 1), new JsonArray(0, 0)) }, x), "Cropping3D", 0);
        var up = new List<float>();
        for (var d = 0; d < 4; d++) for (var h = 0; h < 3; h++) for (var w = 0; w < 6; w++) up.Add(At(d / 2, h, w / 3));
        AssertClose(up.ToArray(), Apply("UpSampling3D", new JsonObject { ["size"] = new JsonArray(2, 1, 3) }, x), "UpSampling3D", 0);
    }

    [Theory]
    [InlineData("Subtract")]
    [InlineData("Average")]
    [InlineData("Maximum")]
    [InlineData("Minimum")]
    [InlineData("Add")]
    [InlineData("Multiply")]
    public void Merge_TwoInputs_MatchesElementwiseFormula(string cls)
    {
        var json = $$$"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "a", "config": {"batch_input_shape": [null, 4], "name": "a"}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "b", "config": {"batch_input_shape": [null, 4], "name": "b"}, "inbound_nodes": []},
              {"class_name": "{{{cls}}}", "name": "merge", "config": {"name": "merge"}, "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]}],
              "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["merge", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json);
        using var runner = ModelRunner.Create(model);
        using var a = Input(new long[] { 3, 4 }, 10);
        using var b = Input(new long[] { 3, 4 }, 11);

        var y = runner.Predict(new[] { a, b })[0];

        Func<float, float, float> f = cls switch
        {
            "Subtract" => (p, q) => p - q,
            "Average" => (p, q) => (p + q) / 2,
            "Maximum" => Math.Max,
            "Minimum" => Math.Min,
            "Add" => (p, q) => p + q,
            _ => (p, q) => p * q,
        };
        AssertClose(Values(a).Zip(Values(b), f).ToArray(), Values(y), cls);
        y.Dispose();
    }

    [Fact]
    public void Conv3D_DepthKernel1_EqualsConv2DOnEachSlice()
    {
        using var m3 = Single("Conv3D", new JsonObject { ["filters"] = 3, ["kernel_size"] = new JsonArray(1, 3, 3), ["padding"] = "same", ["strides"] = new JsonArray(1, 2, 2) }, new long[] { 2, 6, 5, 2 });
        using var m2 = Single("Conv2D", new JsonObject { ["filters"] = 3, ["kernel_size"] = 3, ["padding"] = "same", ["strides"] = 2 }, new long[] { 6, 5, 2 });
        Randomize(m3, 12);
        using (no_grad())
        {
            m2["layer"].FindWeight("kernel")!.Value.copy_(m3["layer"].FindWeight("kernel")!.Value[0]);
            m2["layer"].FindWeight("bias")!.Value.copy_(m3["layer"].FindWeight("bias")!.Value);
        }
        using var x = Input(new long[] { 1, 2, 6, 5, 2 }, 13);

        var (y3, shape) = Run(m3, x);
        var slices = Enumerable.Range(0, 2).SelectMany(d => { using var s = x[.., d]; return Run(m2, s).Values; }).ToArray();

        Assert.Equal(new long[] { 1, 2, 3, 3, 3 }, shape);
        AssertClose(slices, y3, "Conv3D vs Conv2D slices");
    }

    [Theory]
    [InlineData("Conv1DTranspose", "Conv2DTranspose")]
    [InlineData("DepthwiseConv1D", "DepthwiseConv2D")]
    [InlineData("MaxPooling1D", "MaxPooling2D")]
    [InlineData("AveragePooling1D", "AveragePooling2D")]
    public void OneDimensionalLayer_EqualsTwoDimensionalOnHeightOne(string oneD, string twoD)
    {
        var pooling = oneD.Contains("Pooling", StringComparison.Ordinal);
        JsonObject Config(bool two) => pooling
            ? new JsonObject { ["pool_size"] = two ? new JsonArray(1, 3) : 3, ["strides"] = two ? new JsonArray(1, 2) : 2, ["padding"] = "same" }
            : new JsonObject { ["filters"] = 2, ["kernel_size"] = two ? new JsonArray(1, 3) : 3, ["strides"] = two ? new JsonArray(1, 2) : 2, ["padding"] = "same", ["depth_multiplier"] = 2 };
        using var m1 = Single(oneD, Config(false), new long[] { 7, 3 });
        using var m2 = Single(twoD, Config(true), new long[] { 1, 7, 3 });
        Randomize(m1, 14);
        using (no_grad())
        {
            foreach (var w in m1["layer"].Weights)
            {
                var target = m2["layer"].FindWeight(w.Name)!.Value;
                target.copy_(w.Value.reshape(target.shape));
            }
        }
        using var x = Input(new long[] { 2, 7, 3 }, 15);
        using var x2 = x.unsqueeze(1);

        var (y1, _) = Run(m1, x);
        var (y2, _) = Run(m2, x2);

        AssertClose(y2, y1, $"{oneD} vs {twoD}");
    }

    [Theory]
    [InlineData("MaxPooling3D", "MaxPooling2D")]
    [InlineData("AveragePooling3D", "AveragePooling2D")]
    public void Pooling3D_DepthPool1_EqualsPooling2DOnEachSlice(string threeD, string twoD)
    {
        using var m3 = Single(threeD, new JsonObject { ["pool_size"] = new JsonArray(1, 2, 3), ["strides"] = new JsonArray(1, 2, 2), ["padding"] = "same" }, new long[] { 2, 5, 7, 3 });
        using var m2 = Single(twoD, new JsonObject { ["pool_size"] = new JsonArray(2, 3), ["strides"] = new JsonArray(2, 2), ["padding"] = "same" }, new long[] { 5, 7, 3 });
        using var x = Input(new long[] { 1, 2, 5, 7, 3 }, 18);

        var (y3, _) = Run(m3, x);
        var slices = Enumerable.Range(0, 2).SelectMany(d => { using var s = x[.., d]; return Run(m2, s).Values; }).ToArray();

        AssertClose(slices, y3, $"{threeD} vs {twoD}");
    }

    [Fact]
    public void Conv3DTranspose_DepthKernel1_EqualsConv2DTransposeOnEachSlice()
    {
        using var m3 = Single("Conv3DTranspose", new JsonObject { ["filters"] = 2, ["kernel_size"] = new JsonArray(1, 3, 3), ["strides"] = new JsonArray(1, 2, 2), ["padding"] = "same" }, new long[] { 2, 4, 3, 2 });
        using var m2 = Single("Conv2DTranspose", new JsonObject { ["filters"] = 2, ["kernel_size"] = 3, ["strides"] = 2, ["padding"] = "same" }, new long[] { 4, 3, 2 });
        Randomize(m3, 19);
        using (no_grad())
        {
            m2["layer"].FindWeight("kernel")!.Value.copy_(m3["layer"].FindWeight("kernel")!.Value[0]);
            m2["layer"].FindWeight("bias")!.Value.copy_(m3["layer"].FindWeight("bias")!.Value);
        }
        using var x = Input(new long[] { 1, 2, 4, 3, 2 }, 20);

        var (y3, shape) = Run(m3, x);
        var slices = Enumerable.Range(0, 2).SelectMany(d => { using var s = x[.., d]; return Run(m2, s).Values; }).ToArray();

        Assert.Equal(new long[] { 1, 2, 8, 6, 2 }, shape);
        AssertClose(slices, y3, "Conv3DTranspose vs Conv2DTranspose slices");
    }

    [Theory]
    [InlineData("GlobalMaxPooling1D", 3)]
    [InlineData("GlobalAveragePooling1D", 3)]
    [InlineData("GlobalMaxPooling3D", 5)]
    [InlineData("GlobalAveragePooling3D", 5)]
    public void GlobalPooling_MatchesReductions(string cls, int rank)
    {
        var shape = rank == 3 ? new long[] { 2, 6, 3 } : new long[] { 2, 2, 3, 4, 3 };
        using var x = Input(shape, 21);
        var actual = Apply(cls, new JsonObject(), x);
        var xs = Values(x);
        var per = xs.Length / 2 / 3;
        var expected = new float[6];
        for (var n = 0; n < 2; n++)
        for (var c = 0; c < 3; c++)
        {
            var values = Enumerable.Range(0, per).Select(i => xs[(n * per + i) * 3 + c]).ToArray();
            expected[n * 3 + c] = cls.Contains("Max", StringComparison.Ordinal) ? values.Max() : values.Average();
        }
        AssertClose(expected, actual, cls);
    }

    [Fact]
    public void Convolution2D_Keras1Config_EqualsConv2D()
    {
        var keras1 = new JsonObject { ["nb_filter"] = 3, ["nb_row"] = 3, ["nb_col"] = 2, ["border_mode"] = "same", ["subsample"] = new JsonArray(2, 1), ["dim_ordering"] = "tf" };
        var keras2 = new JsonObject { ["filters"] = 3, ["kernel_size"] = new JsonArray(3, 2), ["padding"] = "same", ["strides"] = new JsonArray(2, 1) };
        using var m2 = Single("Conv2D", keras2, new long[] { 5, 4, 2 });
        Randomize(m2, 22);
        using var x = Input(new long[] { 1, 5, 4, 2 }, 23);
        // The same weights under the Keras 1 class name and config keys: only the config reading differs.
        var conv = m2["layer"];
        var entry = (JsonObject)conv.Entry.DeepClone();
        entry["class_name"] = "Convolution2D";
        keras1["name"] = "layer";
        entry["config"] = keras1;
        var weights = conv.Weights.Select(w => new KerasWeight(w.Name, w.Value.clone(), w.Trainable, null, null)).ToArray();
        var layer = new KerasLayer(entry, "Convolution2D", "layer", conv.InboundNodes, weights, null, false);
        using var m1 = new KerasModel(m2.Root, m2.ClassName, m2.Name, new[] { m2["in"], layer }, m2.Inputs, m2.Outputs, m2.Source);

        var (expected, _) = Run(m2, x);
        var (actual, _) = Run(m1, x);

        AssertClose(expected, actual, "Keras 1 Convolution2D");
    }

    [Fact]
    public void NestedSequential_RunsInsideFunctionalModel()
    {
        const string json = """
            {"class_name": "Functional", "config": {"name": "outer", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
              {"class_name": "Sequential", "name": "tower", "config": {"name": "tower", "layers": [
                  {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "tower_in"}},
                  {"class_name": "Dense", "config": {"name": "d1", "units": 3, "activation": "relu"}}]},
               "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "head", "config": {"name": "head", "units": 2}, "inbound_nodes": [[["tower", 1, 0, {}]]]}],
              "input_layers": [["x", 0, 0]], "output_layers": [["head", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 16);
        using var runner = ModelRunner.Create(model);
        using var x = Input(new long[] { 3, 4 }, 17);

        using var y = runner.Predict(x);

        var w1 = Values(model["tower"].NestedModel!["d1"].FindWeight("kernel")!.Value);
        var b1 = Values(model["tower"].NestedModel!["d1"].FindWeight("bias")!.Value);
        var w2 = Values(model["head"].FindWeight("kernel")!.Value);
        var b2 = Values(model["head"].FindWeight("bias")!.Value);
        var xs = Values(x);
        var expected = new float[6];
        for (var n = 0; n < 3; n++)
        {
            var h = Enumerable.Range(0, 3).Select(j => Math.Max(0, Enumerable.Range(0, 4).Sum(i => xs[n * 4 + i] * w1[i * 3 + j]) + b1[j])).ToArray();
            for (var k = 0; k < 2; k++) expected[n * 2 + k] = Enumerable.Range(0, 3).Sum(j => h[j] * w2[j * 2 + k]) + b2[k];
        }
        AssertClose(expected, Values(y), "nested Sequential");
    }

    [Fact]
    public void Create_LambdaLayer_FailsBeforeRunningNamingLayer()
    {
        const string json = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "in"}},
              {"class_name": "Lambda", "config": {"name": "double_it", "function": ["4wEAAAAAAAAA", null, null]}}]}}
            """;
        using var model = KerasFile.ParseArchitecture(json);

        var e = Assert.Throws<SurgeonException>(() => ModelRunner.Create(model));

        Assert.Contains("'double_it' (Lambda)", e.Message);
        Assert.Contains("Python", e.Message);
    }
}
