namespace Surgeon;

/// <summary>
/// One tensor in a Keras graph: output <see cref="TensorIndex"/> of call <see cref="NodeIndex"/> of layer
/// <see cref="Layer"/>, Keras's <c>keras_history</c> triple.
/// </summary>
/// <param name="Layer">Name of the producing layer.</param>
/// <param name="NodeIndex">Which call of that layer (shared layers are called more than once).</param>
/// <param name="TensorIndex">Which output of that call.</param>
public readonly record struct TensorRef(string Layer, int NodeIndex = 0, int TensorIndex = 0)
{
    /// <inheritdoc />
    public override string ToString() => $"{Layer}[{NodeIndex}][{TensorIndex}]";
}
