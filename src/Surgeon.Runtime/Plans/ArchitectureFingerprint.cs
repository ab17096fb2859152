using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Surgeon;

/// <summary>
/// A stable hash of a model's layer graph: layer names, classes, widths (units, filters, output_dim) and wiring (each
/// call's input tensors, the model's inputs and outputs). Weights, other config values, layer order and the file format do not count, so
/// the same architecture read from <c>.h5</c>, <c>.keras</c> or its JSON has the same fingerprint. A surgery plan records
/// the fingerprint of the architecture it was compiled against and refuses a model whose fingerprint differs.
/// </summary>
/// <remarks>
/// The Surgeon source generator computes the same value at compile time; both hash <see cref="CanonicalText"/>:
/// <code>
/// surgeon-architecture-v1
/// layer NAME|CLASS|WIDTH             one per layer, ordinal order of names
/// call NAME#I|A[n][t],B[n][t]        one per call I of the layer, its input tensors in order
/// input A[n][t]                      the model's inputs, in order
/// output A[n][t]                     the model's outputs, in order
/// </code>
/// lines joined by <c>\n</c>, encoded as UTF-8 and hashed with 64-bit FNV-1a, written as 16 lower-case hex digits.
/// WIDTH is the first whole number among the config values <c>units</c>, <c>filters</c>, <c>output_dim</c> and
/// <c>nb_filter</c> (for a wrapper such as Bidirectional, its wrapped layer's), or <c>-</c>. It is defined by the
/// config alone, not by what surgery supports, so fingerprints do not change when Surgeon learns to prune more layer
/// classes. Nested models count as one layer (their class), without their inner layers.
/// </remarks>
public static class ArchitectureFingerprint
{
    /// <summary>First line of the canonical text; changes whenever the definition does.</summary>
    public const string Header = "surgeon-architecture-v1";

    /// <summary>The fingerprint of <paramref name="model"/>'s architecture.</summary>
    public static string Of(KerasModel model) => Hash(CanonicalText(model));

    /// <summary>
    /// The fingerprint of <paramref name="model"/>'s topology: as <see cref="Of"/> with every width written as <c>*</c>,
    /// so the pruned versions of an architecture share it (see <see cref="PlanMatch.Topology"/>).
    /// </summary>
    public static string Topology(KerasModel model) => Hash(CanonicalText(model, includeWidths: false));

    /// <summary>The text <see cref="Of"/> hashes (see the remarks of <see cref="ArchitectureFingerprint"/>); without widths for <see cref="Topology"/>.</summary>
    public static string CanonicalText(KerasModel model, bool includeWidths = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        var sb = new StringBuilder();
        sb.Append(Header);
        foreach (var layer in model.Layers.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            sb.Append("\nlayer ").Append(layer.Name).Append('|').Append(layer.ClassName).Append('|').Append(includeWidths ? Width(layer.ConfigNode) : "*");
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

    private static readonly string[] s_widthKeys = { "units", "filters", "output_dim", "nb_filter" };

    private static string Width(JsonObject config)
    {
        foreach (var key in s_widthKeys)
        {
            if (config[key] is JsonValue v && Whole(v) is { } n) return n.ToString(CultureInfo.InvariantCulture);
        }
        return config["layer"] is JsonObject inner && inner["config"] is JsonObject innerConfig ? Width(innerConfig) : "-";
    }

    private static int? Whole(JsonValue v)
    {
        if (v.TryGetValue(out int i)) return i;
        return v.TryGetValue(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue ? (int)d : null;
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
