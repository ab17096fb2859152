using System.Globalization;
using System.Text;

namespace Surgeon;

/// <summary>
/// A stable hash of a model's layer graph: layer names, classes, channel counts and wiring (each call's input tensors,
/// the model's inputs and outputs). Weights, other config values, layer order and the file format do not count, so
/// the same architecture read from <c>.h5</c>, <c>.keras</c> or its JSON has the same fingerprint. A surgery plan records
/// the fingerprint of the architecture it was compiled against and refuses a model whose fingerprint differs.
/// </summary>
/// <remarks>
/// The Surgeon source generator computes the same value at compile time; both hash <see cref="CanonicalText"/>:
/// <code>
/// surgeon-architecture-v1
/// layer NAME|CLASS|CHANNELS          one per layer, ordinal order of names; CHANNELS is "-" for a layer without channels
/// call NAME#I|A[n][t],B[n][t]        one per call I of the layer, its input tensors in order
/// input A[n][t]                      the model's inputs, in order
/// output A[n][t]                     the model's outputs, in order
/// </code>
/// lines joined by <c>\n</c>, encoded as UTF-8 and hashed with 64-bit FNV-1a, written as 16 lower-case hex digits.
/// Nested models count as one layer (their class), without their inner layers.
/// </remarks>
public static class ArchitectureFingerprint
{
    /// <summary>First line of the canonical text; changes whenever the definition does.</summary>
    public const string Header = "surgeon-architecture-v1";

    /// <summary>The fingerprint of <paramref name="model"/>'s architecture.</summary>
    public static string Of(KerasModel model) => Hash(CanonicalText(model));

    /// <summary>The text <see cref="Of"/> hashes (see the remarks of <see cref="ArchitectureFingerprint"/>).</summary>
    public static string CanonicalText(KerasModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var sb = new StringBuilder();
        sb.Append(Header);
        foreach (var layer in model.Layers.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            var channels = ChannelCount(layer);
            sb.Append("\nlayer ").Append(layer.Name).Append('|').Append(layer.ClassName).Append('|')
                .Append(channels is { } c ? c.ToString(CultureInfo.InvariantCulture) : "-");
            for (var i = 0; i < layer.InboundNodes.Count; i++)
            {
                sb.Append("\ncall ").Append(layer.Name).Append('#').Append(i.ToString(CultureInfo.InvariantCulture)).Append('|')
                    .Append(string.Join(",", layer.InboundNodes[i].Inputs.Select(Ref)));
            }
        }
        foreach (var t in model.Inputs) sb.Append("\ninput ").Append(Ref(t));
        foreach (var t in model.Outputs) sb.Append("\noutput ").Append(Ref(t));
        return sb.ToString();
    }

    /// <summary>
    /// The number of output channels <see cref="ModelSurgeon.DeleteChannels"/> can delete from <paramref name="layer"/>
    /// (units or filters), or null for a layer without channels.
    /// </summary>
    public static int? ChannelCount(KerasLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return ChannelDeletion.ChannelCount(layer);
    }

    /// <summary>64-bit FNV-1a of the UTF-8 bytes of <paramref name="text"/>, as 16 lower-case hex digits.</summary>
    public static string Hash(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }

    private static string Ref(TensorRef t) =>
        string.Create(CultureInfo.InvariantCulture, $"{t.Layer}[{t.NodeIndex}][{t.TensorIndex}]");
}
