using System;
using System.Globalization;

namespace Surgeon.Generators.Model;

/// <summary>One tensor of a Keras graph: output <see cref="Tensor"/> of call <see cref="Node"/> of <see cref="Layer"/>.</summary>
internal readonly record struct TensorRef(string Layer, int Node, int Tensor)
{
    public override string ToString() => string.Format(CultureInfo.InvariantCulture, "{0}[{1}][{2}]", Layer, Node, Tensor);
}

/// <summary>One call of a layer: the tensors it consumes, in order.</summary>
internal sealed record CallInfo(EquatableArray<TensorRef> Inputs);

/// <summary>What the generator knows about one top-level layer, all of it computed from the architecture JSON.</summary>
/// <param name="Name">Keras layer name.</param>
/// <param name="ClassName">Keras class name.</param>
/// <param name="ChannelCount">Output channels a DeleteChannels job can delete (units/filters), or null.</param>
/// <param name="OutputShape">Output shape of its first call, Keras style (<c>(None, 26, 26, 32)</c>), or <c>unknown</c>.</param>
/// <param name="ParameterCount">Scalar weights, when computable from the config and input shapes.</param>
/// <param name="Calls">The layer's calls (several for a shared layer, none for an input).</param>
/// <param name="Depth">Longest path from a model input, for ordering jobs.</param>
/// <param name="IsSynthesized">The implicit input layer of a Sequential model that declares its input shape on its first layer.</param>
/// <param name="Detail">More about the layer for its documentation (wrapped layer, nested model size), or null.</param>
internal sealed record LayerInfo(
    string Name,
    string ClassName,
    int? ChannelCount,
    string OutputShape,
    long? ParameterCount,
    EquatableArray<CallInfo> Calls,
    int Depth,
    bool IsSynthesized,
    string? Detail);

/// <summary>A parsed architecture: the model's top-level layers, endpoints and fingerprint.</summary>
internal sealed record ArchitectureSpec(
    string ModelName,
    string ModelClass,
    string? KerasVersion,
    EquatableArray<LayerInfo> Layers,
    EquatableArray<TensorRef> Inputs,
    EquatableArray<TensorRef> Outputs,
    string Fingerprint,
    string TopologyFingerprint)
{
    public LayerInfo? Find(string name)
    {
        foreach (var layer in Layers)
        {
            if (string.Equals(layer.Name, name, StringComparison.Ordinal)) return layer;
        }
        return null;
    }
}

/// <summary>
/// One candidate architecture file among the AdditionalFiles: its path, the model it was extracted from (item metadata
/// <c>SurgeonSourceModel</c>, set by the build step), and the parsed architecture or why it could not be parsed.
/// </summary>
internal sealed record ArchitectureResult(string Path, string? SourceModel, ArchitectureSpec? Spec, string? Error);

/// <summary>Every candidate architecture file (ordinal order of paths) and the project directory plans resolve paths against.</summary>
internal sealed record ArchitectureCatalog(string? ProjectDirectory, EquatableArray<ArchitectureResult> Files);
