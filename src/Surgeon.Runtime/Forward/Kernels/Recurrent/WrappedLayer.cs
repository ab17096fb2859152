using System.Text.Json.Nodes;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// The layer a wrapper (Bidirectional, TimeDistributed) holds, made into a stand-alone <see cref="KerasLayer"/> so
/// that its kernel is built by <see cref="KernelFactory"/> like any other: its config from the wrapper's config, its
/// weights the wrapper's (by reference; the inner kernel copies what it needs).
/// </summary>
internal static class WrappedLayer
{
    /// <summary>The wrapped layer's class name and config (a copy) under <paramref name="key"/>, or an error naming the wrapper.</summary>
    public static (string ClassName, JsonObject Config) Read(KerasLayer wrapper, string key)
    {
        var (cls, config) = ConfigValues.Wrapped(wrapper.ConfigNode, key)
            ?? throw new SurgeonException($"Layer '{wrapper.Name}' ({wrapper.ClassName}) has no readable '{key}' config (class_name and config).");
        return (cls, (JsonObject)config.DeepClone());
    }

    /// <summary>
    /// A layer named <paramref name="name"/> of class <paramref name="className"/> with <paramref name="config"/> and
    /// the given weights, checked to be runnable.
    /// </summary>
    public static KerasLayer Create(KerasLayer wrapper, string name, string className, JsonObject config, IEnumerable<KerasWeight> weights)
    {
        var entry = new JsonObject { ["class_name"] = className, ["config"] = config };
        var layer = new KerasLayer(entry, className, name, Array.Empty<KerasNode>(), weights.ToArray(), null, synthesized: true);
        if (KernelFactory.CannotRun(layer) is { } reason)
            throw new SurgeonException($"Layer '{wrapper.Name}' ({wrapper.ClassName}) wraps a {className} layer that cannot run: {reason}");
        return layer;
    }

    /// <summary>Keras 1's per-layer suffixes as Keras 2 short names: W is kernel, U recurrent_kernel, b bias.</summary>
    public static string Keras1ShortName(string suffix) => suffix switch { "W" => "kernel", "U" => "recurrent_kernel", "b" => "bias", _ => suffix };

    /// <summary>A weight under another short name (same tensor).</summary>
    public static KerasWeight Renamed(KerasWeight w, string name) => new(name, w.Value, w.Trainable, w.StoredName, w.ArchivePath);
}
