using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests;

/// <summary>
/// Weights initialised from a config follow Keras's initializers in distribution: checked by their statistics on
/// large kernels (a broken sampler, e.g. one that fills a tensor with a single value, fails at once).
/// </summary>
public sealed class InitializerTests
{
    private static Tensor Kernel(string initializer, JsonObject? config = null)
    {
        var init = new JsonObject { ["class_name"] = initializer, ["config"] = config ?? new JsonObject() };
        var json = new JsonObject
        {
            ["class_name"] = "Sequential",
            ["config"] = new JsonObject
            {
                ["name"] = "m",
                ["layers"] = new JsonArray(
                    new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, 16, 16, 64), ["name"] = "in" } },
                    new JsonObject { ["class_name"] = "Conv2D", ["config"] = new JsonObject { ["name"] = "c", ["filters"] = 128, ["kernel_size"] = 3, ["kernel_initializer"] = init } }),
            },
        }.ToJsonString();
        using var model = KerasFile.CreateFromArchitecture(json, seed: 5);
        return model["c"].FindWeight("kernel")!.Value.clone();
    }

    // fan_in = 3*3*64 = 576, fan_out = 3*3*128 = 1152.
    [Theory]
    [InlineData("HeNormal", 2.0 / 576, 2.0)]
    [InlineData("GlorotNormal", 2.0 / (576 + 1152), 2.0)]
    [InlineData("LecunNormal", 1.0 / 576, 2.0)]
    [InlineData("HeUniform", 2.0 / 576, 1.7320508)]
    [InlineData("GlorotUniform", 2.0 / (576 + 1152), 1.7320508)]
    public void VarianceScaling_HasKerasVarianceAndRange(string initializer, double variance, double boundInStd)
    {
        using var k = Kernel(initializer);
        var std = Math.Sqrt(variance);

        Assert.InRange(k.std().item<float>(), 0.97 * std, 1.03 * std);
        Assert.InRange(k.mean().item<float>(), -0.01 * std, 0.01 * std);
        // Truncated normals are cut at 2 std of the underlying normal (scaled so the result has the wanted std);
        // uniforms at sqrt(3) std.
        var bound = initializer.EndsWith("Normal", StringComparison.Ordinal) ? 2 * std / 0.87962566103423978 : boundInStd * std;
        Assert.True(k.abs().max().item<float>() <= bound * 1.0001);
        Assert.True(k.abs().max().item<float>() >= 0.9 * bound);
    }

    [Fact]
    public void TruncatedNormal_UsesItsMeanAndStddev_AndIsNotConstant()
    {
        using var k = Kernel("TruncatedNormal", new JsonObject { ["mean"] = 1.0, ["stddev"] = 0.2 });

        // A normal truncated at +-2 std has std 0.8796 of the untruncated one.
        Assert.InRange(k.std().item<float>(), 0.97 * 0.2 * 0.87962566, 1.03 * 0.2 * 0.87962566);
        Assert.InRange(k.mean().item<float>(), 0.99, 1.01);
        Assert.InRange(k.min().item<float>(), 0.6f - 1e-6f, 0.7f);
        Assert.InRange(k.max().item<float>(), 1.3f, 1.4f + 1e-6f);
    }
}

/// <summary>A convolution's own activation runs in Keras's layout: a softmax normalises the channels (channels_last).</summary>
public sealed class ConvActivationLayoutTests
{
    [Theory]
    [InlineData("channels_last")]
    [InlineData("channels_first")]
    public void ConvSoftmax_NormalisesKerasLastAxis(string dataFormat)
    {
        var json = new JsonObject
        {
            ["class_name"] = "Sequential",
            ["config"] = new JsonObject
            {
                ["name"] = "m",
                ["layers"] = new JsonArray(
                    new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, 3, 6, 6), ["name"] = "in" } },
                    new JsonObject { ["class_name"] = "Conv2D", ["config"] = new JsonObject { ["name"] = "c", ["filters"] = 4, ["kernel_size"] = 3, ["activation"] = "softmax", ["data_format"] = dataFormat } }),
            },
        }.ToJsonString();
        using var model = KerasFile.CreateFromArchitecture(json, seed: 3);
        using var runner = ModelRunner.Create(model);
        using var x = rand(2, 3, 6, 6);

        using var y = runner.Predict(x);

        using var sums = y.sum(-1);
        Assert.True((sums - 1).abs().max().item<float>() < 1e-5);
    }
}
