using System.Text.Json.Nodes;

namespace Surgeon.Benchmarks;

/// <summary>
/// The architecture of Keras Applications' ResNet50 (v1, <c>include_top=True</c>, 224x224x3 input, 1000 classes) as
/// tf.keras 2 <c>model.to_json()</c> writes it: a Functional model with Keras's layer names, configs and layer order.
/// </summary>
/// <remarks>
/// Stem: <c>conv1_pad</c> (ZeroPadding2D 3), <c>conv1_conv</c> (7x7/2 valid), <c>conv1_bn</c>, <c>conv1_relu</c>,
/// <c>pool1_pad</c> (ZeroPadding2D 1), <c>pool1_pool</c> (3x3/2). Then four stacks of bottleneck blocks
/// (<c>keras.applications.resnet.block1</c>): 1x1 (stride on the first block), 3x3 same, 1x1 (4x filters), each
/// followed by BatchNormalization (axis 3, epsilon 1.001e-5), ReLU after the first two, a projection shortcut
/// (<c>_0_conv</c>, <c>_0_bn</c>) on the first block of each stack, <c>_add</c> and <c>_out</c> (ReLU). Head:
/// <c>avg_pool</c> (GlobalAveragePooling2D), <c>predictions</c> (Dense 1000 softmax).
/// </remarks>
internal static class ResNet50
{
    /// <summary><c>keras.applications.ResNet50().count_params()</c> (BatchNormalization moving statistics included).</summary>
    public const long ParameterCount = 25_636_712;

    /// <summary>Blocks per stack and filters of the first two convolutions of its blocks (the third has 4x).</summary>
    public static readonly (int Blocks, int Filters, int Stride)[] Stacks = [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)];

    /// <summary>Keras Applications' BatchNormalization epsilon in ResNet.</summary>
    public const double Epsilon = 1.001e-5;

    public static string ArchitectureJson(int classes = 1000)
    {
        var m = new FunctionalJson("input_1", 224, 224, 3);
        var x = m.Add("ZeroPadding2D", "conv1_pad", Padding(3), "input_1");
        x = m.Add("Conv2D", "conv1_conv", FunctionalJson.Conv2D(64, 7, 2, "valid", "linear"), x);
        x = m.Add("BatchNormalization", "conv1_bn", BatchNorm(), x);
        x = m.Add("Activation", "conv1_relu", Relu(), x);
        x = m.Add("ZeroPadding2D", "pool1_pad", Padding(1), x);
        x = m.Add("MaxPooling2D", "pool1_pool", FunctionalJson.MaxPooling2D(3, 2), x);
        for (var s = 0; s < Stacks.Length; s++)
        {
            var (blocks, filters, stride) = Stacks[s];
            for (var b = 1; b <= blocks; b++)
            {
                x = Block(m, x, filters, b == 1 ? stride : 1, projection: b == 1, $"conv{s + 2}_block{b}");
            }
        }
        x = m.Add("GlobalAveragePooling2D", "avg_pool", new JsonObject { ["data_format"] = "channels_last", ["keepdims"] = false }, x);
        x = m.Add("Dense", "predictions", FunctionalJson.Dense(classes, "softmax"), x);
        return m.ToJson("resnet50", x);
    }

    /// <summary>
    /// <c>keras.applications.resnet.block1</c>, with layers in the order Keras lists them (the shortcut convolution
    /// after the main branch's second ReLU, the two last BatchNormalizations after both convolutions).
    /// </summary>
    private static string Block(FunctionalJson m, string input, int filters, int stride, bool projection, string name)
    {
        var x = m.Add("Conv2D", name + "_1_conv", FunctionalJson.Conv2D(filters, 1, stride, "valid", "linear"), input);
        x = m.Add("BatchNormalization", name + "_1_bn", BatchNorm(), x);
        x = m.Add("Activation", name + "_1_relu", Relu(), x);
        x = m.Add("Conv2D", name + "_2_conv", FunctionalJson.Conv2D(filters, 3, 1, "same", "linear"), x);
        x = m.Add("BatchNormalization", name + "_2_bn", BatchNorm(), x);
        x = m.Add("Activation", name + "_2_relu", Relu(), x);
        var shortcut = input;
        if (projection) shortcut = m.Add("Conv2D", name + "_0_conv", FunctionalJson.Conv2D(4 * filters, 1, stride, "valid", "linear"), input);
        x = m.Add("Conv2D", name + "_3_conv", FunctionalJson.Conv2D(4 * filters, 1, 1, "valid", "linear"), x);
        if (projection) shortcut = m.Add("BatchNormalization", name + "_0_bn", BatchNorm(), shortcut);
        x = m.Add("BatchNormalization", name + "_3_bn", BatchNorm(), x);
        x = m.Add("Add", name + "_add", new JsonObject(), shortcut, x);
        return m.Add("Activation", name + "_out", Relu(), x);
    }

    private static JsonObject Padding(int p) => new()
    {
        ["padding"] = new JsonArray(new JsonArray(p, p), new JsonArray(p, p)),
        ["data_format"] = "channels_last",
    };

    private static JsonObject Relu() => new() { ["activation"] = "relu" };

    private static JsonObject Constant(string className) => new() { ["class_name"] = className, ["config"] = new JsonObject() };

    private static JsonObject BatchNorm()
    {
        var c = new JsonObject
        {
            ["axis"] = new JsonArray(3),
            ["momentum"] = 0.99,
            ["epsilon"] = Epsilon,
            ["center"] = true,
            ["scale"] = true,
            ["beta_initializer"] = Constant("Zeros"),
            ["gamma_initializer"] = Constant("Ones"),
            ["moving_mean_initializer"] = Constant("Zeros"),
            ["moving_variance_initializer"] = Constant("Ones"),
        };
        foreach (var key in new[] { "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint" }) c[key] = null;
        return c;
    }
}
