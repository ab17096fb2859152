using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>
/// One variable of the trainable graph: a leaf tensor in Keras layout, a copy of a model weight owned by the graph.
/// Trainable ones record gradients; the others (frozen layers, BatchNormalization moving statistics) do not.
/// </summary>
internal sealed class TrainableParameter
{
    public TrainableParameter(KerasLayer layer, KerasWeight source, Tensor value, bool trainable)
    {
        Layer = layer;
        Source = source;
        Value = value;
        Trainable = trainable;
    }

    /// <summary>The layer the weight belongs to.</summary>
    public KerasLayer Layer { get; }

    /// <summary>The weight of the source model this parameter was copied from.</summary>
    public KerasWeight Source { get; }

    /// <summary>The current values (a leaf tensor, <c>requires_grad</c> when <see cref="Trainable"/>).</summary>
    public Tensor Value { get; }

    /// <summary>Whether the optimizer updates it.</summary>
    public bool Trainable { get; }

    /// <summary>Keras penalty added to the loss (kernel_regularizer and the like), if any.</summary>
    public Regularizer? Regularizer { get; set; }

    /// <summary>Keras constraint applied after each update (kernel_constraint and the like), if any.</summary>
    public WeightConstraint? Constraint { get; set; }

    public override string ToString() => $"{Layer.Name}/{Source.Name}";
}

/// <summary>
/// The copies of every weight of a model (nested models included), keyed by the source weight, so that a trained
/// model can be written back with the same structure. Owns the tensors.
/// </summary>
internal sealed class ParameterSet : IDisposable
{
    private readonly Dictionary<KerasWeight, TrainableParameter> _byWeight = new(ReferenceEqualityComparer.Instance);
    private readonly List<TrainableParameter> _all = new();

    /// <summary>Every parameter, in model order.</summary>
    public IReadOnlyList<TrainableParameter> All => _all;

    /// <summary>The parameters the optimizer updates, in model order.</summary>
    public IReadOnlyList<TrainableParameter> Trainable => _all.Where(p => p.Trainable).ToList();

    /// <summary>Copies every weight of <paramref name="model"/> (recursively); trainable ones become leaves that record gradients.</summary>
    public void AddModel(KerasModel model, bool parentTrainable)
    {
        using var _ = no_grad();
        var trainable = parentTrainable && model.Trainable;
        foreach (var layer in model.Layers)
        {
            var layerTrainable = trainable && layer.Trainable;
            foreach (var w in layer.Weights)
            {
                var copy = w.Value.clone(); // under no_grad: a leaf without history
                copy.DetachFromDisposeScope();
                var p = new TrainableParameter(layer, w, copy, layerTrainable && w.Trainable);
                if (p.Trainable) copy.requires_grad_(true);
                _byWeight[w] = p;
                _all.Add(p);
            }
            if (layer.NestedModel is { } nested) AddModel(nested, layerTrainable);
        }
    }

    /// <summary>The parameter copied from <paramref name="weight"/>.</summary>
    public TrainableParameter this[KerasWeight weight] => _byWeight[weight];

    /// <summary>The copy of <paramref name="layer"/>'s weight by the first of <paramref name="names"/> it has, or null when it has none.</summary>
    public TrainableParameter? Find(KerasLayer layer, params string[] names)
    {
        foreach (var name in names)
        {
            if (layer.FindWeight(name) is { } w) return _byWeight[w];
        }
        return null;
    }

    /// <summary>Like <see cref="Find"/>, but the weight must exist.</summary>
    public TrainableParameter Require(KerasLayer layer, params string[] names) =>
        Find(layer, names) ?? throw new SurgeonException(layer.Weights.Count == 0
            ? $"Layer '{layer.Name}' ({layer.ClassName}) has no weights (was the model saved before it was built?); KerasFile.CreateFromArchitecture creates them."
            : $"Layer '{layer.Name}' ({layer.ClassName}) has no weight '{names[0]}'.");

    public void Dispose()
    {
        foreach (var p in _all) p.Value.Dispose();
        _all.Clear();
        _byWeight.Clear();
    }
}
