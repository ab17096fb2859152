using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// A Keras model as a graph of layers with their weights, read from any supported file and writable to the
/// legacy HDF5 and Keras 3 formats. A model owns its weight tensors: dispose it when done. Surgery never changes a
/// model; it returns a new one.
/// </summary>
public sealed class KerasModel : IDisposable
{
    private readonly Dictionary<string, KerasLayer> _byName;
    private bool _disposed;

    internal KerasModel(JsonObject root, string className, string name, IReadOnlyList<KerasLayer> layers,
        IReadOnlyList<TensorRef> inputs, IReadOnlyList<TensorRef> outputs, ModelSource source)
    {
        Root = root;
        ClassName = className;
        Name = name;
        Layers = layers;
        Inputs = inputs;
        Outputs = outputs;
        Source = source;
        _byName = new Dictionary<string, KerasLayer>(StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            _byName[layer.Name] = layer;
        }
    }

    /// <summary>
    /// A new in-memory model of the same class, name, dialect and compile settings over <paramref name="layers"/>
    /// (surgery results). Optimizer state is not carried: it may not fit the new shapes.
    /// </summary>
    internal KerasModel Derive(IReadOnlyList<KerasLayer> layers, IReadOnlyList<TensorRef>? outputs = null, JsonObject? root = null) =>
        new(root ?? Root, ClassName, Name, layers, Inputs, outputs ?? Outputs, Source with { Format = ModelFormat.InMemory })
        {
            Dialect = Dialect,
            TrainingConfig = TrainingConfig,
        };

    /// <summary>Model class: <c>Sequential</c>, <c>Functional</c> (Keras 1/2: <c>Model</c>), or a custom class.</summary>
    public string ClassName { get; }

    /// <summary>Model name.</summary>
    public string Name { get; }

    /// <summary>Every layer, in the order of the saved configuration.</summary>
    public IReadOnlyList<KerasLayer> Layers { get; }

    /// <summary>The model's input tensors.</summary>
    public IReadOnlyList<TensorRef> Inputs { get; }

    /// <summary>The model's output tensors.</summary>
    public IReadOnlyList<TensorRef> Outputs { get; }

    /// <summary>Where the model came from: file, format, Keras version and backend.</summary>
    public ModelSource Source { get; }

    /// <summary>Whether this is a <c>Sequential</c> model (layers chained in order).</summary>
    public bool IsSequential => ClassName == "Sequential";

    /// <summary>
    /// True for a model whose configuration lists no layers (a subclassed Keras model). Its configuration and
    /// weights are carried unchanged; it can be converted and saved but not operated on layer by layer.
    /// </summary>
    public bool IsOpaque { get; init; }

    /// <summary>Legacy HDF5 <c>training_config</c> JSON (optimizer, loss, metrics), kept verbatim; null if none.</summary>
    public string? TrainingConfig { get; internal set; }

    /// <summary>
    /// Weights that belong to no layer: optimizer state, a subclassed model's variables, Keras 3 top-level
    /// variables. Carried through load and save of the same format unchanged.
    /// </summary>
    public IReadOnlyList<StoredTensor> ExtraWeights { get; internal set; } = Array.Empty<StoredTensor>();

    /// <summary>
    /// <c>name</c> attributes of groups outside any layer in a Keras 3 weights file (e.g. the model's own
    /// <c>vars</c>), kept for round trips.
    /// </summary>
    internal IReadOnlyDictionary<string, string> ArchiveGroupNames { get; set; } = new Dictionary<string, string>();

    /// <summary>
    /// The configuration style the model is written in (inbound-node format, layer keys). Legacy HDF5 files keep it;
    /// <c>.keras</c> files always hold <see cref="KerasDialect.Keras3"/>, converting on save.
    /// </summary>
    public KerasDialect Dialect { get; internal init; }

    /// <summary>The top-level serialized model (<c>class_name</c>, <c>config</c>, and any other keys), verbatim.</summary>
    internal JsonObject Root { get; }

    /// <summary>The layer called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No layer has that name; the message lists close names.</exception>
    public KerasLayer this[string name] => FindLayer(name) ?? throw new KeyNotFoundException(NoLayerMessage(name));

    /// <summary>The layer called <paramref name="name"/>, or a <see cref="SurgeonException"/> naming the model and suggesting a close name.</summary>
    internal KerasLayer RequireLayer(string name) => FindLayer(name) ?? throw new SurgeonException(NoLayerMessage(name));

    /// <summary>The layers that call on an output of <paramref name="layer"/>, in model order.</summary>
    internal List<KerasLayer> Consumers(string layer) => Layers.Where(l => l.InboundNodes.Any(n => n.Inputs.Any(i => i.Layer == layer))).ToList();

    internal string NoLayerMessage(string name) => $"Model '{Name}' has no layer named '{name}'.{LayerNames.Suggest(name, _byName.Keys)}";

    /// <summary>The layer called <paramref name="name"/>, or null.</summary>
    public KerasLayer? FindLayer(string name) => _byName.TryGetValue(name, out var layer) ? layer : null;

    /// <summary>Total number of scalar weights (Keras's <c>count_params()</c>), optimizer state excluded.</summary>
    public long ParameterCount => Layers.Sum(l => l.ParameterCount) + OpaqueParameterCount;

    /// <summary>
    /// Number of trainable scalar weights, as Keras's summary counts them. A subclassed (opaque) model's file does not
    /// record which variables are trainable: all of its non-optimizer variables are counted as trainable.
    /// </summary>
    public long TrainableParameterCount => (Trainable ? Layers.Sum(l => l.TrainableParameterCount) : 0) + OpaqueParameterCount;

    /// <summary>Whether the model as a whole is trainable (its config's <c>trainable</c> flag, true when absent).</summary>
    public bool Trainable => (Root["config"] as System.Text.Json.Nodes.JsonObject)?["trainable"] is not System.Text.Json.Nodes.JsonValue v || !v.TryGetValue(out bool b) || b;

    private long OpaqueParameterCount =>
        IsOpaque ? ExtraWeights.Where(w => !w.Path.StartsWith("optimizer/", StringComparison.Ordinal)).Sum(w => w.Value.numel()) : 0;

    /// <summary>Number of non-trainable scalar weights.</summary>
    public long NonTrainableParameterCount => ParameterCount - TrainableParameterCount;

    /// <summary>Every weight tensor of the model, nested models included, with its layer.</summary>
    public IEnumerable<(KerasLayer Layer, KerasWeight Weight)> AllWeights()
    {
        foreach (var layer in Layers)
        {
            foreach (var w in layer.Weights) yield return (layer, w);
            if (layer.NestedModel is { } nested)
            {
                foreach (var pair in nested.AllWeights()) yield return pair;
            }
        }
    }

    /// <summary>The device the weights live on (CPU for a model without weights).</summary>
    public Device Device => AllWeights().Select(x => x.Weight.Value.device).FirstOrDefault() ?? torch.CPU;

    /// <summary>
    /// A copy of this model with every weight copied to <paramref name="device"/> (e.g. <c>torch.CUDA</c>). This model is
    /// unchanged; dispose both.
    /// </summary>
    public KerasModel To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return ModelCopy.To(this, device);
    }

    /// <summary>
    /// A stable hash of the layer graph (names, classes, channel counts, wiring); see
    /// <see cref="global::Surgeon.ArchitectureFingerprint"/>. Surgery plans check it before they run.
    /// </summary>
    public string ArchitectureFingerprint => global::Surgeon.ArchitectureFingerprint.Of(this);

    /// <summary>The architecture as Keras's <c>model.to_json()</c> would write it, in the model's own dialect.</summary>
    public string ToJson(bool indented = false) => IO.ConfigWriter.ToJson(this, indented);

    /// <summary>Disposes every weight tensor of the model.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var layer in Layers)
        {
            foreach (var w in layer.Weights) w.Value.Dispose();
            layer.NestedModel?.Dispose();
        }
        foreach (var w in ExtraWeights) w.Value.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"{ClassName} '{Name}' ({Layers.Count} layers, {ParameterCount:N0} parameters)";
}

/// <summary>A tensor stored at a path of a model file that belongs to no layer (e.g. optimizer state).</summary>
/// <param name="Path">Path inside the file (legacy HDF5: relative to <c>optimizer_weights</c>; Keras 3: inside <c>model.weights.h5</c>).</param>
/// <param name="Value">The values, owned by the model.</param>
public sealed record StoredTensor(string Path, torch.Tensor Value);

/// <summary>Which file format a model was read from.</summary>
public enum ModelFormat
{
    /// <summary>Keras legacy HDF5 with architecture and weights (<c>model.save("x.h5")</c>).</summary>
    LegacyHdf5,
    /// <summary>An architecture JSON (<c>model.to_json()</c>) with a legacy HDF5 weights-only file.</summary>
    ArchitectureJsonWithWeights,
    /// <summary>An architecture JSON alone: weights are absent.</summary>
    ArchitectureJson,
    /// <summary>Keras 3 native <c>.keras</c> zip archive.</summary>
    KerasArchive,
    /// <summary>TensorFlow.js layers model (<c>model.json</c> plus weight shards).</summary>
    TfjsLayers,
    /// <summary>Built in memory.</summary>
    InMemory,
}

/// <summary>Where a model came from.</summary>
/// <param name="Path">File or folder it was read from, if any.</param>
/// <param name="Format">The format it was read from.</param>
/// <param name="KerasVersion">Keras version recorded by the writer (e.g. <c>2.2.4-tf</c>, <c>3.8.0</c>), if any.</param>
/// <param name="Backend">Backend recorded by the writer (e.g. <c>tensorflow</c>), if any.</param>
public sealed record ModelSource(string? Path, ModelFormat Format, string? KerasVersion, string? Backend)
{
    /// <summary>Major Keras version, when <see cref="KerasVersion"/> starts with a number; 0 otherwise.</summary>
    public int KerasMajorVersion =>
        KerasVersion is { Length: > 0 } v && char.IsDigit(v[0]) && int.TryParse(v.Split('.')[0], out var major) ? major : 0;
}
