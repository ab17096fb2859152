using System;
using System.Globalization;
using System.Linq;
using System.Text;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Architecture;

/// <summary>
/// The architecture fingerprint, computed exactly as Surgeon.Runtime's <c>ArchitectureFingerprint</c> does: 64-bit
/// FNV-1a over the UTF-8 canonical text (header, one <c>layer</c> line (name, class, width) per layer in ordinal name order with its
/// <c>call</c> lines, then <c>input</c> and <c>output</c> lines).
/// </summary>
internal static class Fingerprint
{
    public const string Header = "surgeon-architecture-v1";

    public static string Of(GraphModel model, bool includeWidths = true) => Hash(CanonicalText(model, includeWidths));

    public static string CanonicalText(GraphModel model, bool includeWidths = true)
    {
        var sb = new StringBuilder();
        sb.Append(Header);
        foreach (var layer in model.Layers.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            var width = ChannelRule.Width(layer.Config);
            sb.Append("\nlayer ").Append(layer.Name).Append('|').Append(layer.ClassName).Append('|')
                .Append(!includeWidths ? "*" : width is { } w ? w.ToString(CultureInfo.InvariantCulture) : "-");
            for (var i = 0; i < layer.Calls.Count; i++)
            {
                sb.Append("\ncall ").Append(layer.Name).Append('#').Append(i.ToString(CultureInfo.InvariantCulture)).Append('|')
                    .Append(string.Join(",", layer.Calls[i].Select(t => t.ToString())));
            }
        }
        foreach (var t in model.Inputs) sb.Append("\ninput ").Append(t.ToString());
        foreach (var t in model.Outputs) sb.Append("\noutput ").Append(t.ToString());
        return sb.ToString();
    }

    public static string Hash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash ^= b;
            hash = unchecked(hash * 1099511628211UL);
        }
        return hash.ToString("x16", CultureInfo.InvariantCulture);
    }
}
