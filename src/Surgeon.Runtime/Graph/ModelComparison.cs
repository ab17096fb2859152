using System.Text.Json.Nodes;
using Surgeon.Tensors;

namespace Surgeon;

/// <summary>How much of the architecture <see cref="ModelComparison.FindDifference"/> compares.</summary>
public enum ComparisonMode
{
    /// <summary>The serialized architecture (<c>class_name</c> and <c>config</c>) must be equal as JSON.</summary>
    Exact,
    /// <summary>
    /// The graph must be equal (layer names and classes in order, every call's inputs, model inputs and outputs),
    /// whatever the Keras dialect of the config: what survives a conversion between Keras 2 and Keras 3 files.
    /// </summary>
    Graph,
}

/// <summary>Exact comparison of two models: architecture and weights, bit for bit.</summary>
public static class ModelComparison
{
    /// <summary>
    /// Null when <paramref name="a"/> and <paramref name="b"/> have the same architecture (<c>class_name</c> and
    /// <c>config</c> of the serialized model, compared as parsed JSON) and bit-identical weights of the same names, dtypes and shapes; otherwise the first difference, in words.
    /// </summary>
    public static string? FindDifference(KerasModel a, KerasModel b, ComparisonMode mode = ComparisonMode.Exact)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (mode == ComparisonMode.Exact)
        {
            if (!JsonNode.DeepEquals(IO.ConfigWriter.Architecture(a), IO.ConfigWriter.Architecture(b))) return "the architecture JSON differs";
        }
        else if (GraphDifference(a, b) is { } graph)
        {
            return graph;
        }
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

    private static string? GraphDifference(KerasModel a, KerasModel b)
    {
        if (a.IsSequential != b.IsSequential) return "one model is Sequential, the other is not";
        var la = a.Layers.Where(l => !(a.IsSequential && l.ClassName == "InputLayer")).ToList();
        var lb = b.Layers.Where(l => !(b.IsSequential && l.ClassName == "InputLayer")).ToList();
        if (la.Count != lb.Count) return $"{la.Count} layers versus {lb.Count}";
        for (var i = 0; i < la.Count; i++)
        {
            var (x, y) = (la[i], lb[i]);
            if (x.Name != y.Name || x.ClassName != y.ClassName) return $"layer #{i} is {x} versus {y}";
            if (!x.InboundNodes.Select(n => string.Join(",", n.Inputs)).SequenceEqual(y.InboundNodes.Select(n => string.Join(",", n.Inputs))))
                return $"layer '{x.Name}' is called on different inputs";
            if ((x.NestedModel is null) != (y.NestedModel is null)) return $"layer '{x.Name}' is a nested model in only one of them";
            if (x.NestedModel is { } nx && GraphDifference(nx, y.NestedModel!) is { } inner) return $"in nested model '{x.Name}': {inner}";
        }
        if (!a.IsSequential && (!a.Inputs.SequenceEqual(b.Inputs) || !a.Outputs.SequenceEqual(b.Outputs))) return "the model inputs or outputs differ";
        return null;
    }
}
