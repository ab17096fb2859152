using System.Text.Json.Nodes;
using Surgeon.Tensors;

namespace Surgeon;

/// <summary>Exact comparison of two models: architecture JSON and weights, bit for bit.</summary>
public static class ModelComparison
{
    /// <summary>
    /// Null when <paramref name="a"/> and <paramref name="b"/> have the same architecture (<c>class_name</c> and
    /// <c>config</c> of the serialized model, compared as parsed JSON) and bit-identical weights of the same names, dtypes and shapes; otherwise the first difference, in words.
    /// </summary>
    public static string? FindDifference(KerasModel a, KerasModel b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!JsonNode.DeepEquals(IO.ConfigWriter.Architecture(a), IO.ConfigWriter.Architecture(b))) return "the architecture JSON differs";
        var wa = a.AllWeights().ToList();
        var wb = b.AllWeights().ToList();
        if (wa.Count != wb.Count) return $"{wa.Count} weights versus {wb.Count}";
        for (var i = 0; i < wa.Count; i++)
        {
            var (la, x) = wa[i];
            var (lb, y) = wb[i];
            var name = $"{la.Name}/{x.Name}";
            if (la.Name != lb.Name || x.Name != y.Name) return $"weight #{i} is {name} versus {lb.Name}/{y.Name}";
            if (x.Value.dtype != y.Value.dtype) return $"{name} has dtype {x.Value.dtype} versus {y.Value.dtype}";
            if (!x.Shape.SequenceEqual(y.Shape)) return $"{name} has shape [{string.Join(", ", x.Shape)}] versus [{string.Join(", ", y.Shape)}]";
            if (!TensorBytes.ToArray(x.Value).AsSpan().SequenceEqual(TensorBytes.ToArray(y.Value))) return $"{name} has different values";
        }
        var ea = a.ExtraWeights;
        var eb = b.ExtraWeights;
        if (a.Source.Format == b.Source.Format && ea.Count != eb.Count) return $"{ea.Count} extra (optimizer) variables versus {eb.Count}";
        return null;
    }
}
