namespace Surgeon;

/// <summary>
/// A layer of the model a surgery plan was compiled against, as the Surgeon source generator emits it in a plan's
/// <c>Layers</c> class: its name and Keras class. Pass it to <see cref="PlanBuilder"/>'s jobs, or use it where a layer
/// name is expected (it converts to its <see cref="Name"/>).
/// </summary>
public class LayerHandle : IEquatable<LayerHandle>
{
    /// <summary>Creates a handle (generated code does this; a handle only names a layer).</summary>
    /// <param name="name">The Keras layer name.</param>
    /// <param name="className">The Keras class name, e.g. <c>Dropout</c>.</param>
    public LayerHandle(string name, string className)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(className);
        Name = name;
        ClassName = className;
    }

    /// <summary>The Keras layer name, e.g. <c>conv2d_1</c>.</summary>
    public string Name { get; }

    /// <summary>The Keras class name, e.g. <c>Conv2D</c>.</summary>
    public string ClassName { get; }

    /// <summary>The layer of <paramref name="model"/> this handle names.</summary>
    /// <exception cref="KeyNotFoundException">The model has no layer of that name.</exception>
    public KerasLayer In(KerasModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model[Name];
    }

    /// <summary>The layer name, so a handle can go where <see cref="ModelSurgeon"/> takes a name.</summary>
    public static implicit operator string(LayerHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        return handle.Name;
    }

    /// <inheritdoc />
    public virtual bool Equals(LayerHandle? other) =>
        other is not null && other.GetType() == GetType() && other.Name == Name && other.ClassName == ClassName;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as LayerHandle);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, ClassName);

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({ClassName})";
}

/// <summary>
/// A layer with output channels (Dense units, convolution filters, recurrent units) that
/// <see cref="PlanBuilder.DeleteChannels(ChannelLayerHandle, int[])"/> accepts; <see cref="ChannelCount"/> is the count
/// in the architecture the plan was compiled against.
/// </summary>
public sealed class ChannelLayerHandle : LayerHandle
{
    /// <summary>Creates a handle (generated code does this).</summary>
    /// <param name="name">The Keras layer name.</param>
    /// <param name="className">The Keras class name, e.g. <c>Conv2D</c>.</param>
    /// <param name="channelCount">The number of output channels (at least 1).</param>
    public ChannelLayerHandle(string name, string className, int channelCount) : base(name, className)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channelCount, 1);
        ChannelCount = channelCount;
    }

    /// <summary>Number of output channels: valid channel indices are 0 to <c>ChannelCount - 1</c>.</summary>
    public int ChannelCount { get; }

    /// <inheritdoc />
    public override bool Equals(LayerHandle? other) => base.Equals(other) && ((ChannelLayerHandle)other!).ChannelCount == ChannelCount;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, ClassName, ChannelCount);

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({ClassName}, {ChannelCount} channels)";
}
