using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surgeon;

/// <summary>
/// One layer of a Keras model: its class, name, configuration (kept verbatim, including keys Surgeon does not
/// interpret), the calls made to it (<see cref="InboundNodes"/>) and its weights.
/// </summary>
public sealed class KerasLayer
{
    private JsonElement? _configElement;

    internal KerasLayer(JsonObject entry, string className, string name, IReadOnlyList<KerasNode> inboundNodes,
        IReadOnlyList<KerasWeight> weights, KerasModel? nested, bool synthesized)
    {
        Entry = entry;
        ClassName = className;
        Name = name;
        InboundNodes = inboundNodes;
        Weights = weights;
        NestedModel = nested;
        IsSynthesized = synthesized;
    }

    /// <summary>Keras class name, e.g. <c>Conv2D</c>.</summary>
    public string ClassName { get; }

    /// <summary>Layer name, unique within its model.</summary>
    public string Name { get; }

    /// <summary>The calls of this layer; more than one for a shared layer, none for an input layer.</summary>
    public IReadOnlyList<KerasNode> InboundNodes { get; }

    /// <summary>The layer's variables, in Keras order (trainable first, as Keras saves them).</summary>
    public IReadOnlyList<KerasWeight> Weights { get; }

    /// <summary>The model this layer is, when a Sequential or Functional model is used as a layer.</summary>
    public KerasModel? NestedModel { get; }

    /// <summary>Whether Surgeon knows this layer class (otherwise it is carried as an opaque layer).</summary>
    public bool IsKnownClass => LayerCatalog.IsKnown(ClassName) || NestedModel is not null;

    /// <summary>
    /// True for the input layer Keras creates implicitly for a Sequential model whose first layer declares
    /// <c>batch_input_shape</c>: it is part of the graph but not of the saved configuration.
    /// </summary>
    public bool IsSynthesized { get; }

    /// <summary>The layer's <c>config</c> object, read-only.</summary>
    public JsonElement Config => _configElement ??= JsonSerializer.SerializeToElement(ConfigNode);

    /// <summary>The whole serialized layer entry (<c>class_name</c>, <c>config</c>, <c>inbound_nodes</c>, ...).</summary>
    internal JsonObject Entry { get; }

    internal JsonObject ConfigNode => Entry["config"] as JsonObject ?? new JsonObject();

    /// <summary>Whether the layer's weights are trained (its <c>trainable</c> config flag, true when absent).</summary>
    public bool Trainable => ConfigNode["trainable"] is not JsonValue v || !v.TryGetValue(out bool b) || b;

    /// <summary>Total number of scalar weights of this layer (nested models included).</summary>
    public long ParameterCount => Weights.Sum(w => w.ElementCount) + (NestedModel?.ParameterCount ?? 0);

    /// <summary>Number of weights Keras would train in this layer.</summary>
    public long TrainableParameterCount =>
        !Trainable ? 0 : Weights.Where(w => w.Trainable).Sum(w => w.ElementCount) + (NestedModel?.TrainableParameterCount ?? 0);

    /// <summary>Weight by short name (<c>kernel</c>, <c>bias</c>, ...), or null.</summary>
    public KerasWeight? FindWeight(string name) => Weights.FirstOrDefault(w => w.Name == name);

    /// <summary>Group-name attributes of a Keras 3 weights file under this layer's group, kept for round trips.</summary>
    internal IReadOnlyDictionary<string, string> ArchiveGroupNames { get; init; } = new Dictionary<string, string>();

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({ClassName})";
}
