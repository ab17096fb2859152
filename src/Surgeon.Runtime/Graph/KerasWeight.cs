using TorchSharp;

namespace Surgeon;

/// <summary>
/// One variable of a layer, in Keras layout (a Conv2D kernel is HWIO, a Dense kernel is (in, out)).
/// The tensor is owned by the model; it lives on the model's device.
/// </summary>
public sealed class KerasWeight
{
    internal KerasWeight(string name, torch.Tensor value, bool trainable, string? storedName, string? archivePath)
    {
        Name = name;
        Value = value;
        Trainable = trainable;
        StoredName = storedName;
        ArchivePath = archivePath;
    }

    /// <summary>Short variable name: <c>kernel</c>, <c>bias</c>, <c>gamma</c>, <c>moving_mean</c>, ...</summary>
    public string Name { get; }

    /// <summary>The weight's values. Owned by the model: do not dispose; copy it to keep it beyond the model.</summary>
    public torch.Tensor Value { get; }

    /// <summary>Shape of <see cref="Value"/>.</summary>
    public long[] Shape => Value.shape;

    /// <summary>Number of scalar elements.</summary>
    public long ElementCount => Value.numel();

    /// <summary>Whether Keras trains this variable (false for BatchNormalization statistics and similar).</summary>
    public bool Trainable { get; }

    /// <summary>
    /// The name under which a legacy HDF5 file stored the weight (e.g. <c>dense_1/kernel:0</c>), kept to write
    /// it back the same way; null when the weight came from a format without names.
    /// </summary>
    public string? StoredName { get; }

    /// <summary>
    /// Path of the variable inside the layer's group of a Keras 3 <c>model.weights.h5</c> (e.g. <c>vars/0</c>,
    /// <c>cell/vars/1</c>); null when unknown (then it is derived from the layer class when saving).
    /// </summary>
    public string? ArchivePath { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Value.dtype} [{string.Join(", ", Shape)}]";
}
