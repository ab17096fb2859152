using System.Text.Json.Nodes;

namespace Surgeon.Forward.Kernels.Attention;

/// <summary>
/// How one call of an attention layer maps its Python arguments onto the kernel's input tensors (indices into
/// <see cref="KernelInputs"/>, -1 when the argument was not given), plus the call flags the kernel honours.
/// </summary>
/// <remarks>
/// The runner hands a kernel the tensors of <see cref="KerasNode.Inputs"/>, which the config parser collects in
/// serialized order: for a Keras 3 node the <c>__keras_tensor__</c> objects of <c>args</c> then <c>kwargs</c>; for a
/// Keras 2 node the <c>[layer, node, tensor]</c> items of the first argument. Which tensor is the query, the value or the
/// key depends on how the layer was called (<c>mha(q, v)</c>, <c>mha(query=q, key=k, value=v)</c>, ...), so the raw node
/// is walked in the same order to name each position.
/// </remarks>
internal sealed record AttentionCall
{
    public int Query { get; init; } = -1;
    public int Value { get; init; } = -1;
    public int Key { get; init; } = -1;
    public int QueryMask { get; init; } = -1;
    public int ValueMask { get; init; } = -1;
    public int KeyMask { get; init; } = -1;
    public int AttentionMask { get; init; } = -1;
    public bool UseCausalMask { get; init; }
    public bool ReturnAttentionScores { get; init; }

    /// <summary>
    /// The argument layout shared by every call of <paramref name="layer"/>. Calls that differ (another argument
    /// layout or flag) are refused: a kernel does not learn which call it is running.
    /// </summary>
    public static AttentionCall For(KerasLayer layer, bool multiHead)
    {
        AttentionCall? result = null;
        for (var i = 0; i < layer.InboundNodes.Count; i++)
        {
            var call = Parse(layer, layer.InboundNodes[i], multiHead);
            if (result is null) result = call;
            else if (call != result)
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: its call #{i} passes other arguments or flags than its first call, which Surgeon does not support.");
        }
        return result ?? new AttentionCall { Query = 0, Value = 1 };
    }

    private static AttentionCall Parse(KerasLayer layer, KerasNode node, bool multiHead)
    {
        var call = node.Raw switch
        {
            JsonObject keras3 => ParseKeras3(layer, node, keras3, multiHead),
            JsonArray keras2 => ParseKeras2(layer, node, keras2, multiHead),
            _ => Positional(node.Inputs.Count),
        };
        if (call.Query < 0 || call.Value < 0)
        {
            var what = multiHead ? "a query and a value tensor" : "a list [query, value] or [query, value, key]";
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: it needs {what}, but its call lists {node.Inputs.Count} input tensor(s) ({node}).");
        }
        return call;
    }

    private static AttentionCall Positional(int count) => new()
    {
        Query = 0,
        Value = count > 1 ? 1 : -1,
        Key = count > 2 ? 2 : -1,
    };

    // ---------------------------------------------------------------- Keras 3: {"args": [...], "kwargs": {...}}

    private static readonly string[] s_mhaParameters =
        { "query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask", "return_attention_scores", "training", "use_causal_mask" };

    private static readonly string[] s_denseParameters = { "inputs", "mask", "training", "return_attention_scores", "use_causal_mask" };

    private static AttentionCall ParseKeras3(KerasLayer layer, KerasNode node, JsonObject raw, bool multiHead)
    {
        var parameters = multiHead ? s_mhaParameters : s_denseParameters;
        // Arguments by name: positional ones take the parameter names of the layer's call signature.
        var arguments = new List<(string Name, JsonNode? Value)>();
        var args = Unwrap(raw["args"]);
        if (args is JsonArray list)
        {
            for (var i = 0; i < list.Count; i++) arguments.Add((i < parameters.Length ? parameters[i] : $"#{i}", list[i]));
        }
        if (raw["kwargs"] is JsonObject kwargs)
        {
            foreach (var (name, value) in kwargs) arguments.Add((name, value));
        }

        var call = new AttentionCall();
        var position = 0;
        foreach (var (name, value) in arguments)
        {
            if (TryFlag(ref call, name, value)) continue;
            foreach (var (path, history) in KerasTensors(value, new List<int>()))
            {
                if (position >= node.Inputs.Count || node.Inputs[position].Layer != history)
                    throw Mismatch(layer, node);
                call = Assign(call, name, path, position, multiHead);
                position++;
            }
        }
        if (position != node.Inputs.Count) throw Mismatch(layer, node);
        return call;
    }

    /// <summary>Applies the call flags Keras passes as keyword arguments; false for any other argument.</summary>
    private static bool TryFlag(ref AttentionCall call, string name, JsonNode? value)
    {
        switch (name)
        {
            case "use_causal_mask":
                call = call with { UseCausalMask = IsTrue(value) };
                return true;
            case "return_attention_scores":
                call = call with { ReturnAttentionScores = IsTrue(value) };
                return true;
            default:
                return false;
        }
    }

    /// <summary>Keras tensors under <paramref name="n"/> in the parser's order, with their list indices below the argument.</summary>
    private static IEnumerable<(IReadOnlyList<int> Path, string Layer)> KerasTensors(JsonNode? n, List<int> path)
    {
        switch (n)
        {
            case JsonObject o when o["class_name"].AsString() == "__keras_tensor__":
                var history = (o["config"] as JsonObject)?["keras_history"] as JsonArray;
                yield return (path.ToArray(), history?.Count > 0 ? history[0].AsString() ?? "" : "");
                break;
            case JsonObject o when o["class_name"].AsString() == "__tuple__":
                foreach (var r in KerasTensors(Unwrap(o), path)) yield return r;
                break;
            case JsonObject o:
                foreach (var (_, v) in o)
                {
                    foreach (var r in KerasTensors(v, path)) yield return r;
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    path.Add(i);
                    foreach (var r in KerasTensors(a[i], path)) yield return r;
                    path.RemoveAt(path.Count - 1);
                }
                break;
        }
    }

    private static JsonNode? Unwrap(JsonNode? n) =>
        n is JsonObject o && o["class_name"].AsString() == "__tuple__" ? (o["config"] as JsonObject)?["value"] : n;

    // ---------------------------------------------------------------- Keras 2: [[layer, node, tensor, kwargs], ...]

    private static AttentionCall ParseKeras2(KerasLayer layer, KerasNode node, JsonArray raw, bool multiHead)
    {
        var items = raw.OfType<JsonArray>().ToList();
        if (items.Count != raw.Count || items.Count > node.Inputs.Count) throw Mismatch(layer, node);
        var call = new AttentionCall();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Count < 1 || items[i][0].AsString() != node.Inputs[i].Layer) throw Mismatch(layer, node);
            // mha(q) has one item; a list of several items is read as positional [query, value, key].
            call = multiHead
                ? Assign(call, s_mhaParameters[Math.Min(i, 2)], Array.Empty<int>(), i, multiHead)
                : Assign(call, "inputs", new[] { i }, i, multiHead);
        }
        // The call's keyword arguments are repeated on every item of the first argument.
        var kwargs = items.Count > 0 && items[0].Count > 3 ? items[0][3] as JsonObject : null;
        if (kwargs is null) return call;
        var next = items.Count;
        foreach (var (name, value) in kwargs)
        {
            if (TryFlag(ref call, name, value)) continue;
            foreach (var (path, triple) in Triples(value, new List<int>()))
            {
                int index;
                if (next < node.Inputs.Count && node.Inputs[next].Layer == triple[0].AsString())
                {
                    index = next++; // the graph lists keyword tensors after the first argument
                }
                else
                {
                    // A keyword tensor the graph does not list: usable when it is one of the first argument's tensors
                    // (self-attention, mha(x, x), is saved as [[x, 0, 0, {"value": [x, 0, 0]}]]).
                    index = items.FindIndex(item => SameTriple(item, triple));
                    if (index < 0)
                        throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: its keyword argument '{name}' is the tensor {triple.ToJsonString()}, which its graph node ({node}) does not list.");
                }
                call = Assign(call, name, path, index, multiHead);
            }
        }
        if (next != node.Inputs.Count) throw Mismatch(layer, node);
        return call;
    }

    /// <summary><c>[layer, node, tensor]</c> references under a Keras 2 keyword argument, with their list indices.</summary>
    private static IEnumerable<(IReadOnlyList<int> Path, JsonArray Triple)> Triples(JsonNode? n, List<int> path)
    {
        switch (n)
        {
            case JsonArray a when a.Count >= 3 && a[0].AsString() is not null && a[1] is JsonValue && a[2] is JsonValue:
                yield return (path.ToArray(), a);
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    path.Add(i);
                    foreach (var r in Triples(a[i], path)) yield return r;
                    path.RemoveAt(path.Count - 1);
                }
                break;
            case JsonObject o:
                foreach (var (_, v) in o)
                {
                    foreach (var r in Triples(v, path)) yield return r;
                }
                break;
        }
    }

    private static bool SameTriple(JsonArray item, JsonArray triple) =>
        item.Count >= 3 && Enumerable.Range(0, 3).All(i => JsonNode.DeepEquals(item[i], triple[i]));

    // ---------------------------------------------------------------- shared

    private static AttentionCall Assign(AttentionCall call, string argument, IReadOnlyList<int> path, int index, bool multiHead)
    {
        var element = path.Count > 0 ? path[0] : -1;
        if (multiHead)
        {
            return argument switch
            {
                "query" => call with { Query = index },
                "value" => call with { Value = index },
                "key" => call with { Key = index },
                "query_mask" => call with { QueryMask = index },
                "value_mask" => call with { ValueMask = index },
                "key_mask" => call with { KeyMask = index },
                "attention_mask" => call with { AttentionMask = index },
                _ => call,
            };
        }
        return (argument, element) switch
        {
            ("inputs", 0) => call with { Query = index },
            ("inputs", 1) => call with { Value = index },
            ("inputs", 2) => call with { Key = index },
            ("mask", 0) => call with { QueryMask = index },
            ("mask", 1) => call with { ValueMask = index },
            ("mask", 2) => call with { KeyMask = index },
            _ => call,
        };
    }

    private static bool IsTrue(JsonNode? n) => n is JsonValue v && v.TryGetValue(out bool b) && b;

    private static SurgeonException Mismatch(KerasLayer layer, KerasNode node) =>
        new($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: the tensors of its call ({node}) do not match its serialized arguments.");
}

/// <summary>Masking shared by the attention kernels.</summary>
internal static class AttentionMasks
{
    /// <summary>What masked-out scores lose before the softmax (Keras subtracts 1e9 rather than using -inf).</summary>
    public const float Bias = 1.0e9f;

    /// <summary>An explicitly passed mask tensor, else the Keras mask the input tensor carries; as bool.</summary>
    public static TorchSharp.torch.Tensor? Of(KernelInputs inputs, int explicitIndex, int tensorIndex)
    {
        var mask = explicitIndex >= 0 ? inputs[explicitIndex] : tensorIndex >= 0 && tensorIndex < inputs.Masks.Count ? inputs.Masks[tensorIndex] : null;
        return mask is null ? null : ToBool(mask);
    }

    public static TorchSharp.torch.Tensor ToBool(TorchSharp.torch.Tensor t) => t.dtype == TorchSharp.torch.ScalarType.Bool ? t : t.to_type(TorchSharp.torch.ScalarType.Bool);
}
