using System.Text.Json.Nodes;
using static Surgeon.Runtime.Tests.Forward.ReferenceModels;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>
/// Layers no recorded fixture covers, checked against independent references written here as plain loops over
/// float arrays (no TorchSharp arithmetic): TensorFlow's SAME padding, strides, dilation, groups, transposed and
/// depthwise convolutions, pooling that excludes padding, normalisations, Dot, bilinear up-sampling.
/// </summary>
public sealed class CoreKernelReferenceTests
{
    private static Tensor Input(long[] shape, int seed)
    {
        var g = new Generator((ulong)seed);
        return rand(shape, generator: g) * 2 - 1;
    }

    private static float[] W(KerasModel m, string name) => Values(m["layer"].FindWeight(name)!.Value);

    /// <summary>TF SAME padding before the data, and the output length.</summary>
    private static (int Before, int Out) Same(int input, int k, int s, int d)
    {
        var effective = (k - 1) * d + 1;
        var outLength = (input + s - 1) / s;
        var total = Math.Max((outLength - 1) * s + effective - input, 0);
        return (total / 2, outLength);
    }

    /// <summary>NHWC conv2d with HWIO kernel, groups, explicit padding-before and output size.</summary>
    private static float[] Conv2D(float[] x, int n, int h, int w, int c, float[] k, int kh, int kw, int f, float[]? b,
        int sh, int sw, int dh, int dw, int padT, int padL, int oh, int ow, int groups)
    {
        var y = new float[n * oh * ow * f];
        var cg = c / groups;
        var fg = f / groups;
        for (var ni = 0; ni < n; ni++)
        for (var i = 0; i < oh; i++)
        for (var j = 0; j < ow; j++)
        for (var fo = 0; fo < f; fo++)
        {
            double sum = b?[fo] ?? 0;
            var g = fo / fg;
            for (var a = 0; a < kh; a++)
            for (var bb = 0; bb < kw; bb++)
            {
                var yi = i * sh - padT + a * dh;
                var xj = j * sw - padL + bb * dw;
                if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
                for (var ci = 0; ci < cg; ci++)
                    sum += x[((ni * h + yi) * w + xj) * c + g * cg + ci] * k[((a * kw + bb) * cg + ci) * f + fo];
            }
            y[((ni * oh + i) * ow + j) * f + fo] = (float)sum;
        }
        return y;
    }

    [Theory]
    [InlineData("same", 2, 1, 1)]
    [InlineData("same", 1, 2, 1)]
    [InlineData("valid", 2, 1, 2)]
    [InlineData("same", 3, 1, 2)]
    public void Conv2D_StridesDilationGroups_MatchReference(string padding, int stride, int dilation, int groups)
    {
        var config = new JsonObject
        {
            ["filters"] = 4, ["kernel_size"] = new JsonArray(3, 2), ["strides"] = new JsonArray(stride, stride), ["padding"] = padding,
            ["dilation_rate"] = new JsonArray(dilation, dilation), ["groups"] = groups, ["use_bias"] = true,
        };
        using var model = Single("Conv2D", config, new long[] { 7, 8, 4 });
        Randomize(model, 1);
        using var x = Input(new long[] { 2, 7, 8, 4 }, 2);

        var (actual, shape) = Run(model, x);

        var (pt, oh) = padding == "same" ? Same(7, 3, stride, dilation) : (0, (7 - ((3 - 1) * dilation + 1)) / stride + 1);
        var (pl, ow) = padding == "same" ? Same(8, 2, stride, dilation) : (0, (8 - ((2 - 1) * dilation + 1)) / stride + 1);
        var expected = Conv2D(Values(x), 2, 7, 8, 4, W(model, "kernel"), 3, 2, 4, W(model, "bias"), stride, stride, dilation, dilation, pt, pl, oh, ow, groups);
        Assert.Equal(new long[] { 2, oh, ow, 4 }, shape);
        AssertClose(expected, actual, $"Conv2D {padding} s{stride} d{dilation} g{groups}");
    }

    [Fact]
    public void Conv2D_ChannelsFirst_EqualsChannelsLastOnPermutedInput()
    {
        var config = new JsonObject { ["filters"] = 3, ["kernel_size"] = 3, ["strides"] = 2, ["padding"] = "same" };
        using var last = Single("Conv2D", (JsonObject)config.DeepClone(), new long[] { 9, 7, 2 });
        Randomize(last, 4);
        var cf = (JsonObject)config.DeepClone();
        cf["data_format"] = "channels_first";
        using var first = Single("Conv2D", cf, new long[] { 2, 9, 7 });
        using (no_grad())
        {
            first["layer"].FindWeight("kernel")!.Value.copy_(last["layer"].FindWeight("kernel")!.Value);
            first["layer"].FindWeight("bias")!.Value.copy_(last["layer"].FindWeight("bias")!.Value);
        }
        using var x = Input(new long[] { 2, 9, 7, 2 }, 5);
        using var xf = x.permute(0, 3, 1, 2).contiguous();

        var (a, _) = Run(last, x);
        var (b, shape) = Run(first, xf);

        Assert.Equal(new long[] { 2, 3, 5, 4 }, shape);
        using var bt = tensor(b).reshape(shape).permute(0, 2, 3, 1).contiguous();
        AssertClose(a, Values(bt), "channels_first");
    }

    [Fact]
    public void Conv1D_CausalDilated_MatchesReference()
    {
        var config = new JsonObject { ["filters"] = 2, ["kernel_size"] = 3, ["padding"] = "causal", ["dilation_rate"] = 2 };
        using var model = Single("Conv1D", config, new long[] { 10, 3 });
        Randomize(model, 6);
        using var x = Input(new long[] { 1, 10, 3 }, 7);

        var (actual, shape) = Run(model, x);

        // Causal: pad (k - 1) * d = 4 steps before; as a 2D conv with height 1.
        var expected = Conv2D(Values(x), 1, 1, 10, 3, W(model, "kernel"), 1, 3, 2, W(model, "bias"), 1, 1, 1, 2, 0, 4, 1, 10, 1);
        Assert.Equal(new long[] { 1, 10, 2 }, shape);
        AssertClose(expected, actual, "causal Conv1D");
    }

    [Theory]
    [InlineData("same", 2, null)]
    [InlineData("valid", 2, null)]
    [InlineData("same", 2, 1)]
    [InlineData("valid", 1, null)]
    public void Conv2DTranspose_MatchesScatterReference(string padding, int stride, int? outputPadding)
    {
        var config = new JsonObject { ["filters"] = 3, ["kernel_size"] = 3, ["strides"] = stride, ["padding"] = padding };
        if (outputPadding is { } op) config["output_padding"] = op;
        using var model = Single("Conv2DTranspose", config, new long[] { 4, 5, 2 });
        Randomize(model, 8);
        using var x = Input(new long[] { 1, 4, 5, 2 }, 9);

        var (actual, shape) = Run(model, x);

        int OutLength(int input) => outputPadding is { } p
            ? (input - 1) * stride + 3 - 2 * (padding == "same" ? 1 : 0) + p
            : padding == "same" ? input * stride : input * stride + Math.Max(3 - stride, 0);
        var (oh, ow) = (OutLength(4), OutLength(5));
        // Scatter every input pixel into the full result, then crop TF-style: before = (full - out) / 2 for same.
        int fullH = 3 * stride + 3 - stride, fullW = 4 * stride + 3 - stride;
        var padT = padding == "same" ? Math.Max(0, (fullH - oh) / 2) : 0;
        var padL = padding == "same" ? Math.Max(0, (fullW - ow) / 2) : 0;
        var xs = Values(x);
        var k = W(model, "kernel"); // (kh, kw, filters, in)
        var b = W(model, "bias");
        var expected = new float[oh * ow * 3];
        for (var i = 0; i < oh * ow; i++) for (var f = 0; f < 3; f++) expected[i * 3 + f] = b[f];
        for (var i = 0; i < 4; i++)
        for (var j = 0; j < 5; j++)
        for (var a = 0; a < 3; a++)
        for (var c = 0; c < 3; c++)
        {
            var yi = i * stride + a - padT;
            var yj = j * stride + c - padL;
            if (yi < 0 || yi >= oh || yj < 0 || yj >= ow) continue;
            for (var f = 0; f < 3; f++)
            for (var ci = 0; ci < 2; ci++)
                expected[(yi * ow + yj) * 3 + f] += xs[(i * 5 + j) * 2 + ci] * k[((a * 3 + c) * 3 + f) * 2 + ci];
        }
        Assert.Equal(new long[] { 1, oh, ow, 3 }, shape);
        AssertClose(expected, actual, $"Conv2DTranspose {padding} s{stride} op{outputPadding}");
    }

    [Fact]
    public void DepthwiseConv2D_Multiplier2_MatchesReference()
    {
        var config = new JsonObject { ["kernel_size"] = 3, ["depth_multiplier"] = 2, ["padding"] = "same", ["strides"] = 2 };
        using var model = Single("DepthwiseConv2D", config, new long[] { 6, 5, 3 });
        Randomize(model, 10);
        using var x = Input(new long[] { 2, 6, 5, 3 }, 11);

        var (actual, shape) = Run(model, x);

        // Output channel c * m + j uses input channel c and kernel[:, :, c, j]: a grouped conv with groups = 3.
        var dk = W(model, "depthwise_kernel");
        var grouped = new float[3 * 3 * 1 * 6];
        for (var a = 0; a < 9; a++) for (var c = 0; c < 3; c++) for (var j = 0; j < 2; j++) grouped[a * 6 + c * 2 + j] = dk[(a * 3 + c) * 2 + j];
        var (pt, oh) = Same(6, 3, 2, 1);
        var (pl, ow) = Same(5, 3, 2, 1);
        var expected = Conv2D(Values(x), 2, 6, 5, 3, grouped, 3, 3, 6, W(model, "bias"), 2, 2, 1, 1, pt, pl, oh, ow, 3);
        Assert.Equal(new long[] { 2, oh, ow, 6 }, shape);
        AssertClose(expected, actual, "DepthwiseConv2D");
    }

    [Fact]
    public void SeparableConv1D_MatchesDepthwiseThenPointwise()
    {
        var config = new JsonObject { ["filters"] = 4, ["kernel_size"] = 3, ["depth_multiplier"] = 2, ["padding"] = "valid" };
        using var model = Single("SeparableConv1D", config, new long[] { 8, 3 });
        Randomize(model, 12);
        using var x = Input(new long[] { 1, 8, 3 }, 13);

        var (actual, shape) = Run(model, x);

        var dk = W(model, "depthwise_kernel"); // (3, 3, 2)
        var depth = new float[6 * 6];
        for (var t = 0; t < 6; t++)
        for (var c = 0; c < 3; c++)
        for (var j = 0; j < 2; j++)
        {
            double s = 0;
            for (var a = 0; a < 3; a++) s += Values(x)[(t + a) * 3 + c] * dk[(a * 3 + c) * 2 + j];
            depth[t * 6 + c * 2 + j] = (float)s;
        }
        var pk = W(model, "pointwise_kernel"); // (1, 6, 4)
        var b = W(model, "bias");
        var expected = new float[6 * 4];
        for (var t = 0; t < 6; t++)
        for (var f = 0; f < 4; f++)
        {
            double s = b[f];
            for (var c = 0; c < 6; c++) s += depth[t * 6 + c] * pk[c * 4 + f];
            expected[t * 4 + f] = (float)s;
        }
        Assert.Equal(new long[] { 1, 6, 4 }, shape);
        AssertClose(expected, actual, "SeparableConv1D");
    }

    [Theory]
    [InlineData("AveragePooling2D", "same")]
    [InlineData("MaxPooling2D", "same")]
    [InlineData("AveragePooling2D", "valid")]
    public void Pooling2D_ExcludesPadding_MatchesReference(string className, string padding)
    {
        var config = new JsonObject { ["pool_size"] = new JsonArray(3, 2), ["strides"] = new JsonArray(2, 2), ["padding"] = padding };
        using var model = Single(className, config, new long[] { 7, 5, 2 });
        using var x = Input(new long[] { 1, 7, 5, 2 }, 14);

        var (actual, shape) = Run(model, x);

        var (pt, oh) = padding == "same" ? Same(7, 3, 2, 1) : (0, (7 - 3) / 2 + 1);
        var (pl, ow) = padding == "same" ? Same(5, 2, 2, 1) : (0, (5 - 2) / 2 + 1);
        var xs = Values(x);
        var expected = new float[oh * ow * 2];
        for (var i = 0; i < oh; i++)
        for (var j = 0; j < ow; j++)
        for (var c = 0; c < 2; c++)
        {
            double sum = 0, max = double.NegativeInfinity;
            var count = 0;
            for (var a = 0; a < 3; a++)
            for (var b = 0; b < 2; b++)
            {
                var yi = i * 2 - pt + a;
                var xj = j * 2 - pl + b;
                if (yi < 0 || yi >= 7 || xj < 0 || xj >= 5) continue;
                var v = xs[(yi * 5 + xj) * 2 + c];
                sum += v;
                max = Math.Max(max, v);
                count++;
            }
            expected[(i * ow + j) * 2 + c] = (float)(className.StartsWith("Max", StringComparison.Ordinal) ? max : sum / count);
        }
        Assert.Equal(new long[] { 1, oh, ow, 2 }, shape);
        AssertClose(expected, actual, $"{className} {padding}");
    }

    [Fact]
    public void GroupNormalization_MatchesReference()
    {
        var config = new JsonObject { ["groups"] = 2, ["epsilon"] = 1e-3 };
        using var model = Single("GroupNormalization", config, new long[] { 3, 4 });
        Randomize(model, 15);
        using var x = Input(new long[] { 2, 3, 4 }, 16);

        var (actual, _) = Run(model, x);

        var xs = Values(x);
        var gamma = W(model, "gamma");
        var beta = W(model, "beta");
        var expected = new float[xs.Length];
        for (var n = 0; n < 2; n++)
        for (var g = 0; g < 2; g++)
        {
            var idx = Enumerable.Range(0, 3).SelectMany(t => Enumerable.Range(g * 2, 2).Select(c => (n * 3 + t) * 4 + c)).ToArray();
            var mean = idx.Average(i => (double)xs[i]);
            var variance = idx.Average(i => (xs[i] - mean) * (xs[i] - mean));
            foreach (var i in idx) expected[i] = (float)((xs[i] - mean) / Math.Sqrt(variance + 1e-3) * gamma[i % 4] + beta[i % 4]);
        }
        AssertClose(expected, actual, "GroupNormalization");
    }

    [Fact]
    public void LayerNormalization_TwoAxes_MatchesReference()
    {
        var config = new JsonObject { ["axis"] = new JsonArray(1, 2), ["epsilon"] = 1e-3 };
        using var model = Single("LayerNormalization", config, new long[] { 3, 4 });
        Randomize(model, 17);
        using var x = Input(new long[] { 2, 3, 4 }, 18);

        var (actual, _) = Run(model, x);

        var xs = Values(x);
        var gamma = W(model, "gamma");
        var beta = W(model, "beta");
        var expected = new float[xs.Length];
        for (var n = 0; n < 2; n++)
        {
            var slice = xs.Skip(n * 12).Take(12).ToArray();
            var mean = slice.Average(v => (double)v);
            var variance = slice.Average(v => (v - mean) * (v - mean));
            for (var i = 0; i < 12; i++) expected[n * 12 + i] = (float)((slice[i] - mean) / Math.Sqrt(variance + 1e-3) * gamma[i] + beta[i]);
        }
        AssertClose(expected, actual, "LayerNormalization over (1, 2)");
    }

    [Fact]
    public void BatchNormalization_ChannelsFirstAxis1_MatchesReference()
    {
        var config = new JsonObject { ["axis"] = 1, ["epsilon"] = 0.01 };
        using var model = Single("BatchNormalization", config, new long[] { 3, 2, 2 });
        Randomize(model, 19);
        using var x = Input(new long[] { 2, 3, 2, 2 }, 20);

        var (actual, _) = Run(model, x);

        var xs = Values(x);
        var (g, b, m, v) = (W(model, "gamma"), W(model, "beta"), W(model, "moving_mean"), W(model, "moving_variance"));
        var expected = xs.Select((value, i) =>
        {
            var c = i / 4 % 3;
            return (float)((value - m[c]) / Math.Sqrt(v[c] + 0.01) * g[c] + b[c]);
        }).ToArray();
        AssertClose(expected, actual, "BatchNormalization axis 1");
    }

    [Fact]
    public void Dot_Axes_MatchesReference()
    {
        var json = """
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "a", "config": {"batch_input_shape": [null, 3, 4], "name": "a"}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "b", "config": {"batch_input_shape": [null, 5, 4], "name": "b"}, "inbound_nodes": []},
              {"class_name": "Dot", "name": "dot", "config": {"name": "dot", "axes": [2, 2], "normalize": true}, "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]}],
              "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["dot", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json);
        using var runner = ModelRunner.Create(model);
        using var a = Input(new long[] { 2, 3, 4 }, 21);
        using var b = Input(new long[] { 2, 5, 4 }, 22);

        var outputs = runner.Predict(new[] { a, b });

        var (av, bv) = (Values(a), Values(b));
        var expected = new float[2 * 3 * 5];
        for (var n = 0; n < 2; n++)
        for (var i = 0; i < 3; i++)
        for (var j = 0; j < 5; j++)
        {
            double dot = 0, na = 0, nb = 0;
            for (var k = 0; k < 4; k++)
            {
                var x = av[(n * 3 + i) * 4 + k];
                var y = bv[(n * 5 + j) * 4 + k];
                dot += x * y;
                na += x * x;
                nb += y * y;
            }
            expected[(n * 3 + i) * 5 + j] = (float)(dot / Math.Sqrt(na) / Math.Sqrt(nb));
        }
        Assert.Equal(new long[] { 2, 3, 5 }, outputs[0].shape);
        AssertClose(expected, Values(outputs[0]), "Dot normalize");
        outputs[0].Dispose();
    }

    [Fact]
    public void UpSampling2D_Bilinear_MatchesHalfPixelReference()
    {
        var config = new JsonObject { ["size"] = new JsonArray(2, 3), ["interpolation"] = "bilinear" };
        using var model = Single("UpSampling2D", config, new long[] { 3, 2, 1 });
        using var x = Input(new long[] { 1, 3, 2, 1 }, 23);

        var (actual, shape) = Run(model, x);

        var xs = Values(x);
        float At(int i, int j) => xs[Math.Clamp(i, 0, 2) * 2 + Math.Clamp(j, 0, 1)];
        var expected = new float[6 * 6];
        for (var i = 0; i < 6; i++)
        for (var j = 0; j < 6; j++)
        {
            // Half-pixel centres: source = (dst + 0.5) / scale - 0.5, clamped at 0.
            var si = Math.Max((i + 0.5) / 2 - 0.5, 0);
            var sj = Math.Max((j + 0.5) / 3 - 0.5, 0);
            int i0 = (int)Math.Floor(si), j0 = (int)Math.Floor(sj);
            double fi = si - i0, fj = sj - j0;
            expected[i * 6 + j] = (float)((1 - fi) * ((1 - fj) * At(i0, j0) + fj * At(i0, j0 + 1)) + fi * ((1 - fj) * At(i0 + 1, j0) + fj * At(i0 + 1, j0 + 1)));
        }
        Assert.Equal(new long[] { 1, 6, 6, 1 }, shape);
        AssertClose(expected, actual, "bilinear UpSampling2D");
    }

    [Theory]
    [InlineData("relu", 0.0)]
    [InlineData("hard_sigmoid", 0.0)]
    [InlineData("selu", 0.0)]
    [InlineData("softsign", 0.0)]
    [InlineData("swish", 0.0)]
    [InlineData("gelu", 0.0)]
    public void Activation_MatchesKerasFormula(string name, double unused)
    {
        _ = unused;
        using var model = Single("Activation", new JsonObject { ["activation"] = name }, new long[] { 6 });
        using var x = Input(new long[] { 3, 6 }, 24) * 4;

        var (actual, _) = Run(model, x);

        static double Erf(double v)
        {
            // Abramowitz-Stegun 7.1.26 is too coarse for 1e-5; integrate the series instead.
            double sum = v, term = v;
            for (var n = 1; n < 60; n++)
            {
                term *= -v * v / n;
                sum += term / (2 * n + 1);
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        Func<double, double> f = name switch
        {
            "relu" => v => Math.Max(v, 0),
            "hard_sigmoid" => v => Math.Clamp(0.2 * v + 0.5, 0, 1), // Keras 2 definition (the model has no Keras version: 2)
            "selu" => v => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (Math.Exp(v) - 1)),
            "softsign" => v => v / (Math.Abs(v) + 1),
            "swish" => v => v / (1 + Math.Exp(-v)),
            _ => v => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
        };
        AssertClose(Values(x).Select(v => (float)f(v)).ToArray(), actual, name);
    }
}
