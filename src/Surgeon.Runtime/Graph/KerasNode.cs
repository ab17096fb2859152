using System.Text.Json.Nodes;

namespace Surgeon;

/// <summary>
/// One call of a layer in the graph (Keras's "inbound node"): the tensors it consumes, in the order Keras
/// serialized them (positional arguments first, then keyword arguments).
/// </summary>
public sealed class KerasNode
{
    internal KerasNode(IReadOnlyList<TensorRef> inputs, JsonNode? raw)
    {
        Inputs = inputs;
        Raw = raw;
    }

    /// <summary>The tensors this call consumes.</summary>
    public IReadOnlyList<TensorRef> Inputs { get; }

    /// <summary>
    /// The node exactly as the file had it (Keras 1/2 nested list or Keras 3 <c>args</c>/<c>kwargs</c> object),
    /// kept so that keyword arguments we do not interpret survive a round trip. Null for synthesized nodes.
    /// </summary>
    internal JsonNode? Raw { get; }

    /// <summary>Creates a node for a layer call on <paramref name="inputs"/> with no recorded serialization.</summary>
    public static KerasNode Create(IReadOnlyList<TensorRef> inputs) => new(inputs.ToArray(), null);

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", Inputs);
}
