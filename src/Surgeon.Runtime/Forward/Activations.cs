using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon.Forward;

/// <summary>Keras activation functions by name, with Keras's exact definitions.</summary>
internal static class Activations
{
    /// <summary>Whether <paramref name="name"/> is an activation Surgeon can run.</summary>
    public static bool IsKnown(string? name) => name is null || Resolve(name, 3) is not null;

    /// <summary>
    /// Applies activation <paramref name="name"/> to a tensor the caller just created and owns alone, in place where the
    /// activation allows it (ReLU), saving an allocation and a pass over memory.
    /// </summary>
    public static Tensor ApplyToFresh(string? name, Tensor fresh, int kerasMajorVersion) =>
        name == "relu" ? fresh.relu_() : Apply(name, fresh, kerasMajorVersion);

    /// <summary>Applies activation <paramref name="name"/> (null or "linear": identity, returned as is).</summary>
    public static Tensor Apply(string? name, Tensor x, int kerasMajorVersion)
    {
        if (name is null or "linear") return x;
        var f = Resolve(name, kerasMajorVersion) ?? throw new SurgeonException($"Unknown Keras activation '{name}'.");
        return f(x);
    }

    private static Func<Tensor, Tensor>? Resolve(string name, int kerasMajorVersion) => name switch
    {
        "linear" => x => x,
        "relu" => x => nn.functional.relu(x),
        "relu6" => x => nn.functional.relu6(x),
        "sigmoid" => sigmoid,
        "tanh" => tanh,
        "softmax" => x => softmax(x, -1),
        "log_softmax" => x => x.log_softmax(-1),
        "softplus" => x => nn.functional.softplus(x),
        "softsign" => x => x / (abs(x) + 1),
        "elu" => x => nn.functional.elu(x, 1.0),
        "selu" => x => nn.functional.selu(x),
        "exponential" => exp,
        // Keras 2: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6 (slope 1/6).
        "hard_sigmoid" => kerasMajorVersion >= 3 ? x => nn.functional.relu6(x + 3) / 6 : x => clamp(x * 0.2 + 0.5, 0, 1),
        "swish" or "silu" => x => x * sigmoid(x),
        "hard_silu" or "hard_swish" => x => x * (nn.functional.relu6(x + 3) / 6),
        "gelu" => x => nn.functional.gelu(x),
        "mish" => x => x * tanh(nn.functional.softplus(x)),
        "log_sigmoid" => x => nn.functional.logsigmoid(x),
        "leaky_relu" => x => nn.functional.leaky_relu(x, 0.2),
        "celu" => x => nn.functional.celu(x, 1.0),
        "glu" => x => nn.functional.glu(x, -1),
        "tanh_shrink" => x => x - tanh(x),
        "hard_tanh" => x => clamp(x, -1, 1),
        "soft_shrink" => x => nn.functional.softshrink(x, 0.5),
        "hard_shrink" => x => nn.functional.hardshrink(x, 0.5),
        "sparse_plus" => x => where(x <= -1, zeros_like(x), where(x >= 1, x, (x + 1).square() / 4)),
        "squareplus" => x => (x + sqrt(x.square() + 4)) / 2,
        _ => null,
    };
}
