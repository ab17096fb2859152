using System.Text.Json.Nodes;

namespace Surgeon.Benchmarks;

/// <summary>
/// The architecture of Keras Applications' InceptionV3 (<c>include_top=True</c>, 299x299x3 input, 1000 classes) as
/// tf.keras 2 <c>model.to_json()</c> writes it: 313 layers with Keras's automatic names (<c>conv2d</c>,
/// <c>conv2d_1</c>, ..., <c>batch_normalization_93</c>, <c>activation_93</c>) in creation order.
/// </summary>
/// <remarks>
/// Every convolution is <c>conv2d_bn</c>: Conv2D without bias, BatchNormalization (axis 3, <c>scale=False</c>), ReLU
/// Activation: 94 of them. Stem: 3x3/2 valid 32, 3x3 valid 32, 3x3 same 64, max pool 3x3/2, 1x1 80, 3x3 valid 192, max
/// pool 3x3/2. Blocks <c>mixed0</c>-<c>mixed2</c> (35x35: 1x1, 5x5, double 3x3, average pool), <c>mixed3</c> (reduction
/// to 17x17), <c>mixed4</c>-<c>mixed7</c> (1x7/7x1 factorised), <c>mixed8</c> (reduction to 8x8), <c>mixed9</c> and
/// <c>mixed10</c> (split 1x3/3x1 branches concatenated: <c>mixed9_0</c>, <c>concatenate</c>, ...). Head: <c>avg_pool</c>
/// (GlobalAveragePooling2D) and <c>predictions</c> (Dense 1000 softmax).
/// </remarks>
internal sealed class InceptionV3
{
    /// <summary><c>keras.applications.InceptionV3().count_params()</c>.</summary>
    public const long ParameterCount = 23_851_784;

    /// <summary><c>len(keras.applications.InceptionV3().layers)</c>.</summary>
    public const int LayerCount = 313;

    private readonly FunctionalJson _m = new("input_1", 299, 299, 3);
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    public static string ArchitectureJson() => new InceptionV3().Build();

    private string Build()
    {
        var x = ConvBn("input_1", 32, 3, 3, stride: 2, padding: "valid");
        x = ConvBn(x, 32, 3, 3, padding: "valid");
        x = ConvBn(x, 64, 3, 3);
        x = MaxPool(x);
        x = ConvBn(x, 80, 1, 1, padding: "valid");
        x = ConvBn(x, 192, 3, 3, padding: "valid");
        x = MaxPool(x);

        // mixed0-2: 35 x 35 x 256 / 288
        for (var i = 0; i < 3; i++)
        {
            var b1 = ConvBn(x, 64, 1, 1);
            var b5 = ConvBn(ConvBn(x, 48, 1, 1), 64, 5, 5);
            var b3 = ConvBn(ConvBn(ConvBn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
            var pool = ConvBn(AvgPool(x), i == 0 ? 32 : 64, 1, 1);
            x = Concat("mixed" + i, b1, b5, b3, pool);
        }

        // mixed3: 17 x 17 x 768
        {
            var b3 = ConvBn(x, 384, 3, 3, stride: 2, padding: "valid");
            var bd = ConvBn(ConvBn(ConvBn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, stride: 2, padding: "valid");
            var pool = MaxPool(x);
            x = Concat("mixed3", b3, bd, pool);
        }

        // mixed4-7: 17 x 17 x 768, 7x7 convolutions factorised into 1x7 and 7x1
        var widths = new[] { 128, 160, 160, 192 };
        for (var i = 0; i < widths.Length; i++)
        {
            var c = widths[i];
            var b1 = ConvBn(x, 192, 1, 1);
            var b7 = ConvBn(ConvBn(ConvBn(x, c, 1, 1), c, 1, 7), 192, 7, 1);
            var bd = ConvBn(ConvBn(ConvBn(ConvBn(ConvBn(x, c, 1, 1), c, 7, 1), c, 1, 7), c, 7, 1), 192, 1, 7);
            var pool = ConvBn(AvgPool(x), 192, 1, 1);
            x = Concat("mixed" + (4 + i), b1, b7, bd, pool);
        }

        // mixed8: 8 x 8 x 1280
        {
            var b3 = ConvBn(ConvBn(x, 192, 1, 1), 320, 3, 3, stride: 2, padding: "valid");
            var b7 = ConvBn(ConvBn(ConvBn(ConvBn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1), 192, 3, 3, stride: 2, padding: "valid");
            var pool = MaxPool(x);
            x = Concat("mixed8", b3, b7, pool);
        }

        // mixed9-10: 8 x 8 x 2048
        for (var i = 0; i < 2; i++)
        {
            var b1 = ConvBn(x, 320, 1, 1);
            var b3 = ConvBn(x, 384, 1, 1);
            b3 = Concat("mixed9_" + i, ConvBn(b3, 384, 1, 3), ConvBn(b3, 384, 3, 1));
            var bd = ConvBn(ConvBn(x, 448, 1, 1), 384, 3, 3);
            bd = Concat(null, ConvBn(bd, 384, 1, 3), ConvBn(bd, 384, 3, 1));
            var pool = ConvBn(AvgPool(x), 192, 1, 1);
            x = Concat("mixed" + (9 + i), b1, b3, bd, pool);
        }

        x = _m.Add("GlobalAveragePooling2D", "avg_pool", new JsonObject { ["data_format"] = "channels_last", ["keepdims"] = false }, x);
        x = _m.Add("Dense", "predictions", FunctionalJson.Dense(1000, "softmax"), x);
        return _m.ToJson("inception_v3", x);
    }

    /// <summary>Keras's automatic layer name: <c>conv2d</c> for the first, then <c>conv2d_1</c>, <c>conv2d_2</c>, ...</summary>
    private string AutoName(string prefix)
    {
        _counters.TryGetValue(prefix, out var n);
        _counters[prefix] = n + 1;
        return n == 0 ? prefix : prefix + "_" + n;
    }

    /// <summary>InceptionV3's <c>conv2d_bn</c>: Conv2D (no bias), BatchNormalization without scale, ReLU.</summary>
    private string ConvBn(string input, int filters, int rows, int cols, int stride = 1, string padding = "same")
    {
        var conv = FunctionalJson.Conv2D(filters, 1, stride, padding, "linear");
        conv["kernel_size"] = new JsonArray(rows, cols);
        conv["use_bias"] = false;
        var x = _m.Add("Conv2D", AutoName("conv2d"), conv, input);
        var bn = new JsonObject
        {
            ["axis"] = new JsonArray(3),
            ["momentum"] = 0.99,
            ["epsilon"] = 0.001,
            ["center"] = true,
            ["scale"] = false,
            ["beta_initializer"] = new JsonObject { ["class_name"] = "Zeros", ["config"] = new JsonObject() },
            ["moving_mean_initializer"] = new JsonObject { ["class_name"] = "Zeros", ["config"] = new JsonObject() },
            ["moving_variance_initializer"] = new JsonObject { ["class_name"] = "Ones", ["config"] = new JsonObject() },
        };
        x = _m.Add("BatchNormalization", AutoName("batch_normalization"), bn, x);
        return _m.Add("Activation", AutoName("activation"), new JsonObject { ["activation"] = "relu" }, x);
    }

    private string MaxPool(string input) => _m.Add("MaxPooling2D", AutoName("max_pooling2d"), FunctionalJson.MaxPooling2D(3, 2), input);

    private string AvgPool(string input)
    {
        var config = FunctionalJson.MaxPooling2D(3, 1, "same");
        return _m.Add("AveragePooling2D", AutoName("average_pooling2d"), config, input);
    }

    private string Concat(string? name, params string[] inputs) =>
        _m.Add("Concatenate", name ?? AutoName("concatenate"), new JsonObject { ["axis"] = 3 }, inputs);
}
