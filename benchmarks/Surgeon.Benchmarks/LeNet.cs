using System.Text.Json.Nodes;

namespace Surgeon.Benchmarks;

/// <summary>
/// A LeNet-5-style Keras model on 28x28x1 images: Conv2D 6 5x5 relu (valid), MaxPooling2D 2, Conv2D 16 5x5 relu,
/// MaxPooling2D 2, Flatten, Dense 120 relu, Dense 84 relu, Dense 10 softmax.
/// </summary>
internal static class LeNet
{
    /// <summary>156 + 2,416 + 30,840 + 10,164 + 850.</summary>
    public const long ParameterCount = 44_426;

    public static string ArchitectureJson()
    {
        var m = new FunctionalJson("input_1", 28, 28, 1);
        var x = m.Add("Conv2D", "conv1", FunctionalJson.Conv2D(6, 5, 1, "valid", "relu"), "input_1");
        x = m.Add("MaxPooling2D", "pool1", FunctionalJson.MaxPooling2D(2, 2), x);
        x = m.Add("Conv2D", "conv2", FunctionalJson.Conv2D(16, 5, 1, "valid", "relu"), x);
        x = m.Add("MaxPooling2D", "pool2", FunctionalJson.MaxPooling2D(2, 2), x);
        x = m.Add("Flatten", "flatten", new JsonObject { ["data_format"] = "channels_last" }, x);
        x = m.Add("Dense", "fc1", FunctionalJson.Dense(120, "relu"), x);
        x = m.Add("Dense", "fc2", FunctionalJson.Dense(84, "relu"), x);
        x = m.Add("Dense", "predictions", FunctionalJson.Dense(10, "softmax"), x);
        return m.ToJson("lenet", x);
    }
}
