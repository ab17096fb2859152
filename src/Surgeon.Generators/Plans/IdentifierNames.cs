using System;
using System.Collections.Generic;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Plans;

/// <summary>
/// C# member names for Keras layer names: PascalCase from the name's parts (<c>conv2d_1</c> gives <c>Conv2d1</c>,
/// <c>block1_conv1</c> gives <c>Block1Conv1</c>), <c>_</c> before a leading digit, <c>Layer</c> for a name without
/// letters or digits, <c>@</c> before a keyword. Collisions (with each other or with reserved names) are resolved in
/// the model's layer order: the first layer keeps the name, later ones get <c>_2</c>, <c>_3</c>, ...
/// </summary>
internal static class IdentifierNames
{
    /// <summary>Names a member of the generated <c>Layers</c> class cannot take.</summary>
    private static readonly string[] s_reserved =
    {
        "Layers", "All", "Equals", "GetHashCode", "ToString", "GetType", "ReferenceEquals", "MemberwiseClone", "Finalize",
    };

    public static List<LayerMember> Assign(IEnumerable<LayerInfo> layers)
    {
        var taken = new HashSet<string>(s_reserved, StringComparer.Ordinal);
        var result = new List<LayerMember>();
        foreach (var layer in layers)
        {
            var name = FromKerasName(layer.Name);
            var candidate = name;
            for (var k = 2; !taken.Add(candidate); k++) candidate = name + "_" + k.ToString(System.Globalization.CultureInfo.InvariantCulture);
            result.Add(new LayerMember(candidate, layer));
        }
        return result;
    }

    public static string FromKerasName(string kerasName)
    {
        var sb = new StringBuilder(kerasName.Length);
        var startOfPart = true;
        foreach (var c in kerasName)
        {
            if (c == '_' || !SyntaxFacts.IsIdentifierPartCharacter(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            {
                startOfPart = true;
                continue;
            }
            sb.Append(startOfPart ? char.ToUpperInvariant(c) : c);
            startOfPart = false;
        }
        if (sb.Length == 0) return "Layer";
        if (!SyntaxFacts.IsIdentifierStartCharacter(sb[0])) sb.Insert(0, '_');
        var id = sb.ToString();
        return SyntaxFacts.GetKeywordKind(id) != SyntaxKind.None ? "@" + id : id;
    }
}
