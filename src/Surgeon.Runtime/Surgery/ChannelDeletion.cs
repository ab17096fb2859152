using System.Text.Json.Nodes;
using Surgeon.Shapes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// Deletes channels and repairs the graph downstream. A deletion travels with each tensor as the set of channels kept on
/// one axis; layers that act per channel pass it on (slicing their own per-channel weights), weighted consumers drop the
/// matching input rows and stop it, Flatten turns it into kept features, Concatenate offsets it, and element-wise merges
/// require (or, by coupling, create) the same deletion on every input.
/// </summary>
internal static class ChannelDeletion
{
    /// <summary>
    /// The channels kept on one axis of a tensor, and the constant each deleted channel would carry there in the masked
    /// original (zero at the pruned layer; BatchNormalization, biases and activations can make it non-zero). Consumers
    /// fold those constants into their bias, so deletion stays exactly equivalent to zeroing the channels.
    /// </summary>
    private sealed record Deletion(int Axis, bool[] Keep, double[] Constants)
    {
        public Deletion(int axis, bool[] keep) : this(axis, keep, new double[keep.Length]) { }

        public bool SameAs(Deletion? other) => other is not null && other.Axis == Axis && other.Keep.SequenceEqual(Keep);

        public bool HasConstants
        {
            get
            {
                for (var i = 0; i < Keep.Length; i++) if (!Keep[i] && Constants[i] != 0) return true;
                return false;
            }
        }

        public long[] DeletedIndices() => Indices(false);

        public long[] KeptIndices() => Indices(true);

        private long[] Indices(bool kept)
        {
            var result = new List<long>(Keep.Length);
            for (var i = 0; i < Keep.Length; i++) if (Keep[i] == kept) result.Add(i);
            return result.ToArray();
        }

        /// <summary>Every channel is gone: the tensor's branch is removed (its constants still reach a Concatenate's consumers).</summary>
        public bool IsDead => Array.IndexOf(Keep, true) < 0;
    }

    private static bool IsDead(Deletion? d) => d is not null && d.IsDead;

    private static readonly HashSet<string> s_passThrough = new(StringComparer.Ordinal)
    {
        "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    };

    /// <summary>Pass-through layers that work on spatial axes: a deletion must be on their channel axis.</summary>
    private static readonly HashSet<string> s_spatial = new(StringComparer.Ordinal)
    {
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    };

    private static readonly HashSet<string> s_merges = new(StringComparer.Ordinal) { "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" };

    private static readonly HashSet<string> s_conv = new(StringComparer.Ordinal) { "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D" };

    private static readonly HashSet<string> s_recurrent = new(StringComparer.Ordinal) { "SimpleRNN", "GRU", "LSTM" };

    private static readonly HashSet<string> s_convRecurrent = new(StringComparer.Ordinal) { "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D" };

    /// <summary>
    /// The number of output channels a layer can lose (units, filters, an Embedding's output_dim; for Bidirectional
    /// and TimeDistributed, the wrapped layer's), or null if it has none.
    /// </summary>
    public static int? ChannelCount(KerasLayer layer) => ChannelCount(layer.ClassName, layer.ConfigNode);

    private static int? ChannelCount(string className, JsonObject config) => className switch
    {
        "Dense" or "SimpleRNN" or "GRU" or "LSTM" => Int(config, "units", "output_dim"),
        "Embedding" => Int(config, "output_dim"),
        _ when s_conv.Contains(className) => Int(config, "filters", "nb_filter"),
        "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose" or "SeparableConv1D" or "SeparableConv2D" => Int(config, "filters"),
        _ when s_convRecurrent.Contains(className) => Int(config, "filters"),
        "Bidirectional" => Wrapped(config, "layer") is var (c, inner) && c is "SimpleRNN" or "GRU" or "LSTM" ? ChannelCount(c, inner) : null,
        "TimeDistributed" => Wrapped(config, "layer") is var (c, inner) && c is not (null or "Bidirectional" or "TimeDistributed" or "Embedding") ? ChannelCount(c, inner) : null,
        _ => null,
    };

    /// <summary>A wrapper's inner layer (class and config, not copied), or a null class and an empty config.</summary>
    private static (string? ClassName, JsonObject Config) Wrapped(JsonObject config, string key) =>
        ConfigValues.Wrapped(config, key) is var (cls, inner) ? (cls, inner) : (null, new JsonObject());

    /// <summary>
    /// Where deleted <paramref name="channels"/> sit in output <paramref name="tensorIndex"/> (of rank
    /// <paramref name="rank"/>) of <paramref name="layer"/>: the axis, and the indices (a concatenating Bidirectional
    /// has each unit in both halves). Used to run the masked original.
    /// </summary>
    internal static (int Axis, long[] Indices) ChannelPositions(KerasLayer layer, int rank, int tensorIndex, int[] channels)
    {
        var axis = OutputChannelAxis(layer, rank);
        var concatenated = tensorIndex == 0 && ConcatenatesDirections(layer);
        var count = ChannelCount(layer) ?? 0;
        var indices = channels.Select(c => (long)c);
        return (axis, (concatenated ? indices.Concat(indices.Select(c => c + count)) : indices).ToArray());
    }

    /// <summary>A Bidirectional whose first output joins its two directions side by side (merge_mode concat, the default).</summary>
    private static bool ConcatenatesDirections(KerasLayer layer) =>
        layer.ClassName == "Bidirectional" && (!layer.ConfigNode.ContainsKey("merge_mode") || String(layer.ConfigNode, "merge_mode") == "concat");

    /// <summary>The axis (with batch) that holds a layer's output channels.</summary>
    private static int OutputChannelAxis(KerasLayer layer, int rank) => layer.ClassName switch
    {
        // TimeDistributed keeps the inner layer's layout behind the time axis.
        "TimeDistributed" => ChannelsFirst(Wrapped(layer.ConfigNode, "layer").Config) && rank > 3 ? 2 : rank - 1,
        "Bidirectional" => rank - 1,
        // A ConvLSTM's sequence output keeps the time axis before channels_first channels.
        _ when s_convRecurrent.Contains(layer.ClassName) => ChannelsFirst(layer.ConfigNode) ? (rank == layer.ClassName[8] - '0' + 3 ? 2 : 1) : rank - 1,
        _ => ChannelsFirst(layer.ConfigNode) && rank > 2 ? 1 : rank - 1,
    };

    public static SurgeryResult Apply(KerasModel model, IReadOnlyDictionary<string, int[]> jobs, CouplingPolicy coupling)
    {
        var deletions = new Dictionary<string, int[]>(jobs, StringComparer.Ordinal);
        var coupled = new List<string>();
        var shapes = ShapeInference.For(model);
        // Coupling: repeat until every merge sees one deletion on all its inputs.
        for (var round = 0; ; round++)
        {
            var plan = new Planner(model, shapes, deletions);
            var conflict = plan.Run();
            if (conflict is null)
            {
                plan.FindDeadBranches();
                var result = plan.Build();
                return new SurgeryResult(result, deletions, plan.Changed.ToList(), coupled) { InexactLayers = plan.Inexact.ToList(), RemovedLayers = plan.Removed.ToList() };
            }
            plan.DisposeEdits();
            var (merge, wanted, inputs) = conflict.Value;
            if (coupling == CouplingPolicy.Refuse || round > model.Layers.Count)
                throw new SurgeonException($"Deleting channels reaches merge layer '{merge}', whose inputs would then differ in channels; delete the same channels from all of its producers ({string.Join(", ", inputs)}), or use CouplingPolicy.DeleteFromGroup.");
            var added = false;
            foreach (var producer in inputs)
            {
                if (deletions.TryGetValue(producer, out var existing))
                {
                    if (!existing.SequenceEqual(wanted))
                        throw new SurgeonException($"Layers '{producer}' and the other producers of merge layer '{merge}' are coupled but have different channel deletions ({string.Join(", ", existing)} versus {string.Join(", ", wanted)}).");
                    continue;
                }
                deletions[producer] = wanted;
                coupled.Add(producer);
                added = true;
            }
            if (!added) throw new SurgeonException($"Merge layer '{merge}' gets different channel deletions on its inputs and no producer can be changed to match.");
        }
    }

    /// <summary>Every layer call that leads to a model output, each after the calls it consumes.</summary>
    internal static List<(KerasLayer Layer, int Node)> Schedule(KerasModel model)
    {
        var done = new HashSet<(string, int)>();
        var order = new List<(KerasLayer, int)>();
        void Visit(TensorRef t)
        {
            if (!done.Add((t.Layer, t.NodeIndex))) return;
            var layer = model[t.Layer];
            if (layer.ClassName != "InputLayer" && t.NodeIndex < layer.InboundNodes.Count)
                foreach (var i in layer.InboundNodes[t.NodeIndex].Inputs) Visit(i);
            order.Add((layer, t.NodeIndex));
        }
        foreach (var o in model.Outputs) Visit(o);
        return order;
    }

    /// <summary>
    /// Deleting every channel of <paramref name="target"/> removes its branch, as keras-surgeon does: every layer fed only
    /// by the branch goes, and a Concatenate loses that input (and is bypassed when one input is left). Checked when the
    /// job is added: the branch must not reach a model output or a layer that needs the input (an Add, a Dense on two inputs...).
    /// </summary>
    internal static void CheckBranchRemoval(KerasModel model, KerasLayer target, int count)
    {
        var dead = new HashSet<string>(StringComparer.Ordinal) { target.Name };
        foreach (var (layer, node) in Schedule(model))
        {
            if (layer.ClassName == "InputLayer" || layer == target) continue;
            var inputs = layer.InboundNodes[node].Inputs;
            var lost = inputs.Count(i => dead.Contains(i.Layer));
            if (lost == 0) continue;
            if (lost == inputs.Count && !s_recurrent.Contains(layer.ClassName))
            {
                dead.Add(layer.Name);
                continue;
            }
            if (layer.ClassName == "Concatenate") continue;
            throw new SurgeonException(lost == inputs.Count
                ? $"Deleting all {count} channels of layer '{target.Name}' removes its branch, which is the whole input of recurrent layer '{layer.Name}' ({layer.ClassName}); delete fewer channels."
                : $"Deleting all {count} channels of layer '{target.Name}' removes its branch, but layer '{layer.Name}' ({layer.ClassName}) needs that input; only a Concatenate can lose an input. Delete fewer channels.");
        }
        if (model.Outputs.Select(o => o.Layer).FirstOrDefault(dead.Contains) is { } output)
            throw new SurgeonException($"Deleting all {count} channels of layer '{target.Name}' would remove model output '{output}' (nothing would be left to compute it); delete fewer channels.");
    }

    /// <summary>
    /// The layers with channels whose outputs reach <paramref name="t"/> through per-channel layers and element-wise
    /// merges only: the coupled group (a residual merge's output channels are tied to every producer behind it).
    /// Empty when some path has no such layer (a model input, a layer that mixes channels).
    /// </summary>
    private static List<KerasLayer> Producers(KerasModel model, TensorRef t)
    {
        var layer = model[t.Layer];
        if (ChannelCount(layer) is not null) return new List<KerasLayer> { layer };
        var perChannel = s_passThrough.Contains(layer.ClassName) || layer.ClassName is "BatchNormalization" or "PReLU";
        if (t.NodeIndex >= layer.InboundNodes.Count || !(perChannel || s_merges.Contains(layer.ClassName))) return new List<KerasLayer>();
        var all = new List<KerasLayer>();
        foreach (var input in layer.InboundNodes[t.NodeIndex].Inputs)
        {
            var found = Producers(model, input);
            if (found.Count == 0) return new List<KerasLayer>();
            all.AddRange(found);
        }
        return all;
    }

    /// <summary>
    /// The groups of layers that element-wise merges (residual Adds and the like) tie together: deleting channel k of
    /// one member deletes it from all (see <see cref="CouplingPolicy.DeleteFromGroup"/>). Layers in no merge are absent.
    /// </summary>
    internal static IReadOnlyList<IReadOnlyList<string>> CoupledGroups(KerasModel model)
    {
        var parent = new Dictionary<string, string>(StringComparer.Ordinal);
        string Find(string x)
        {
            while (parent[x] != x) x = parent[x] = parent[parent[x]];
            return x;
        }
        foreach (var layer in model.Layers.Where(l => s_merges.Contains(l.ClassName)))
        {
            foreach (var node in layer.InboundNodes)
            {
                var members = node.Inputs.SelectMany(i => Producers(model, i)).Select(l => l.Name).Distinct().ToList();
                foreach (var m in members) parent.TryAdd(m, m);
                for (var i = 1; i < members.Count; i++) parent[Find(members[i])] = Find(members[0]);
            }
        }
        return parent.Keys.GroupBy(Find).Select(g => (IReadOnlyList<string>)g.OrderBy(n => model.Layers.ToList().FindIndex(l => l.Name == n)).ToList()).ToList();
    }

    /// <summary>One propagation over the graph for a fixed set of deletions; collects every layer edit.</summary>
    private sealed class Planner(KerasModel model, ShapeInference shapes, IReadOnlyDictionary<string, int[]> deletions)
    {
        private readonly Dictionary<TensorRef, Deletion?> _tensors = new();
        private readonly Dictionary<string, Dictionary<string, Tensor>> _weights = new(StringComparer.Ordinal);
        // Edited weights that are views of the input model's storage: Build must copy them, never hand them out.
        private readonly HashSet<Tensor> _views = new(ReferenceEqualityComparer.Instance);
        // Scattered kept channels, gathered once when the weight is built (or first read): axis -> kept indices, relative
        // to the weight's current edit. Two gathers on adjacent axes (a kernel's input and output channels) become one.
        private readonly Dictionary<(string Layer, string Weight), SortedDictionary<int, long[]>> _gathers = new();
        private readonly Dictionary<string, Deletion?[]> _seenInputs = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Deletion?> _consumed = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _channelCounts = new(StringComparer.Ordinal);
        private readonly HashSet<string> _targetsDone = new(StringComparer.Ordinal);
        private readonly List<string> _inexact = new();
        private readonly Dictionary<string, Action<JsonObject>> _configEdits = new(StringComparer.Ordinal);
        // Branch removal (every channel of a layer deleted): the layers that go, Concatenate calls that lose inputs, and
        // Concatenate outputs replaced by their one remaining input.
        private readonly HashSet<string> _removed = new(StringComparer.Ordinal);
        private readonly Dictionary<(string, int), KerasNode> _nodeEdits = new();
        private readonly Dictionary<TensorRef, TensorRef> _bypass = new();

        /// <summary>Layers removed with a branch whose every channel was deleted.</summary>
        public IEnumerable<string> Removed => _removed.Order(StringComparer.Ordinal);

        /// <summary>Where a deleted channel's constant could not be folded exactly (the result then differs slightly).</summary>
        public IReadOnlyList<string> Inexact => _inexact;

        private void NoteInexact(KerasLayer layer, string why) => _inexact.Add($"{layer.Name} ({layer.ClassName}): {why}");

        /// <summary>Adds the deleted channels' constant contribution, <paramref name="delta"/>, to a consumer's bias.</summary>
        private void AddToBias(KerasLayer layer, Tensor? delta, string prefix = "")
        {
            if (delta is null) return;
            var name = layer.FindWeight(prefix + "bias") is not null ? prefix + "bias" : layer.FindWeight(prefix + "b") is not null ? prefix + "b" : null;
            if (name is null)
            {
                NoteInexact(layer, "a deleted channel carries a constant into it but it has no bias to absorb it");
                return;
            }
            var bias = Edited(layer, name);
            var sum = bias.dim() == 2
                ? bias.to_type(ScalarType.Float64).index_add(0, tensor(new long[] { 0 }, device: bias.device), delta.unsqueeze(0), 1)
                : bias.to_type(ScalarType.Float64) + delta;
            SetWeight(layer, name, sum.to_type(bias.dtype));
        }

        /// <summary>
        /// What the deleted channels' constants add to a consumer's pre-activation: constants · weights over the
        /// weights' input-channel <paramref name="axis"/>, with the axes before it (kernel taps) summed. Only the rows of
        /// deleted channels with a non-zero constant are read; float64, since hundreds of folded terms would otherwise
        /// add float32 rounding. Null when there is nothing to fold.
        /// </summary>
        private static Tensor? Fold(Deletion d, Tensor weights, int axis = 0)
        {
            var rows = new List<long>();
            var values = new List<double>();
            for (var i = 0; i < d.Keep.Length; i++)
            {
                if (d.Keep[i] || d.Constants[i] == 0) continue;
                rows.Add(i);
                values.Add(d.Constants[i]);
            }
            if (rows.Count == 0) return null;
            using var scope = NewDisposeScope();
            var dim = axis < 0 ? (int)weights.dim() + axis : axis;
            var w = weights.index_select(dim, tensor(rows.ToArray(), device: weights.device)).to_type(ScalarType.Float64);
            if (dim > 0) w = w.sum(Enumerable.Range(0, dim).Select(i => (long)i).ToArray());
            var outShape = w.shape[1..];
            return matmul(tensor(values.ToArray(), device: weights.device), w.reshape(rows.Count, -1)).reshape(outShape).MoveToOuterDisposeScope();
        }

        public IEnumerable<string> Changed => _weights.Keys.Concat(_channelCounts.Keys).Concat(_configEdits.Keys).Concat(_nodeEdits.Keys.Select(k => k.Item1))
            .Except(_removed).Distinct().OrderBy(n => n, StringComparer.Ordinal);

        /// <summary>
        /// After propagation: the calls whose every output is dead go; a Concatenate drops its dead inputs (bypassed when
        /// one is left). The consumers after it already dropped the dead channels' rows and folded their constants.
        /// </summary>
        public void FindDeadBranches()
        {
            var dead = _tensors.Where(kv => IsDead(kv.Value)).Select(kv => (kv.Key.Layer, kv.Key.NodeIndex)).ToHashSet();
            if (dead.Count == 0) return;
            if (model.Outputs.Where(o => dead.Contains((o.Layer, o.NodeIndex))).Select(o => o.Layer).FirstOrDefault() is { } output)
                throw new SurgeonException($"Deleting every channel removes model output '{output}' (nothing would be left to compute it); delete fewer channels.");
            foreach (var layer in model.Layers)
            {
                var calls = Math.Max(1, layer.InboundNodes.Count);
                var deadCalls = Enumerable.Range(0, calls).Count(n => dead.Contains((layer.Name, n)));
                if (deadCalls == calls) _removed.Add(layer.Name);
                else if (deadCalls > 0)
                    throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) is shared, and only some of its calls lie on a branch whose every channel is deleted; removing those calls is not supported. Delete fewer channels.");
            }
            foreach (var layer in model.Layers.Where(l => !_removed.Contains(l.Name)))
            {
                var bypassed = 0;
                for (var n = 0; n < layer.InboundNodes.Count; n++)
                {
                    var inputs = layer.InboundNodes[n].Inputs;
                    var kept = inputs.Where(i => !IsDead(_tensors.GetValueOrDefault(i))).ToArray();
                    if (kept.Length == inputs.Count) continue;
                    if (layer.ClassName != "Concatenate")
                        throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) loses an input to a branch whose every channel is deleted; only a Concatenate can lose an input.");
                    if (kept.Length == 1)
                    {
                        _bypass[new TensorRef(layer.Name, n)] = kept[0];
                        bypassed++;
                    }
                    else
                    {
                        _nodeEdits[(layer.Name, n)] = new KerasNode(kept, null);
                    }
                }
                if (bypassed == 0) continue;
                if (bypassed < layer.InboundNodes.Count)
                    throw new SurgeonException($"Concatenate layer '{layer.Name}' is shared, and only some of its calls are left with one input; bypassing those calls is not supported. Delete fewer channels.");
                _removed.Add(layer.Name);
            }
        }

        /// <summary>Propagates; returns a merge conflict (merge layer, channels wanted, producers to couple) or null.</summary>
        public (string Merge, int[] Wanted, string[] Producers)? Run()
        {
            foreach (var (layer, node) in Schedule(model))
            {
                if (layer.ClassName == "InputLayer") continue;
                var refs = layer.InboundNodes[node].Inputs;
                var ins = refs.Select(r => _tensors.GetValueOrDefault(r)).ToArray();
                if (s_merges.Contains(layer.ClassName) && ins.Any(d => d is not null) && !ins.All(d => d is not null && d.SameAs(ins.First(x => x is not null))))
                {
                    var source = ins.First(d => d is not null)!;
                    var wanted = source.Keep.Select((k, i) => (k, i)).Where(x => !x.k).Select(x => x.i).ToArray();
                    var producers = refs.Where((r, i) => !source.SameAs(ins[i])).SelectMany(r =>
                    {
                        var found = Producers(model, r);
                        return found.Count > 0 ? found : throw new SurgeonException(
                            $"Merge layer '{layer.Name}' couples '{r.Layer}' to a channel deletion, but no layer with channels produces that input; the deletion cannot be matched.");
                    }).ToArray();
                    return (layer.Name, wanted, producers.Select(p => p.Name).Distinct().ToArray());
                }
                var outputs = Transfer(layer, node, refs, ins);
                for (var t = 0; t < outputs.Length; t++) _tensors[new TensorRef(layer.Name, node, t)] = outputs[t];
            }
            return null;
        }

        private int?[] Shape(TensorRef t) => shapes.OutputShapes(t.Layer, t.NodeIndex) is { } s && t.TensorIndex < s.Count ? s[t.TensorIndex]
            : throw new SurgeonException($"The shape of layer '{t.Layer}''s output is unknown, so a channel deletion cannot be carried through it.");

        private Tensor Edited(KerasLayer layer, string weight)
        {
            var edits = _weights.TryGetValue(layer.Name, out var e) ? e : _weights[layer.Name] = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            if (_gathers.Remove((layer.Name, weight), out var pending))
            {
                // Someone reads the weight before it is built: gather now.
                SetWeight(layer, weight, Gather(edits[weight], pending));
            }
            if (edits.TryGetValue(weight, out var t)) return t;
            return layer.FindWeight(weight)?.Value ?? throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has no weight '{weight}'.");
        }

        /// <summary>
        /// <paramref name="source"/> with only the kept indices on each pending axis: one advanced-index gather for two
        /// adjacent axes, <c>index_select</c> otherwise. Always a new tensor (never a view of the input model).
        /// </summary>
        private static Tensor Gather(Tensor source, SortedDictionary<int, long[]> keeps)
        {
            using var scope = NewDisposeScope();
            var device = source.device;
            var dims = keeps.Keys.ToArray();
            Tensor result;
            if (dims.Length == 2 && dims[1] == dims[0] + 1)
            {
                var indices = Enumerable.Range(0, (int)source.dim()).Select(_ => TensorIndex.Colon).ToArray();
                indices[dims[0]] = TensorIndex.Tensor(tensor(keeps[dims[0]], device: device).unsqueeze(1));
                indices[dims[1]] = TensorIndex.Tensor(tensor(keeps[dims[1]], device: device).unsqueeze(0));
                result = source.index(indices);
            }
            else
            {
                result = source;
                foreach (var (dim, keep) in keeps) result = result.index_select(dim, tensor(keep, device: device));
            }
            return result.contiguous().MoveToOuterDisposeScope();
        }

        private void SetWeight(KerasLayer layer, string weight, Tensor value)
        {
            var edits = _weights[layer.Name];
            // A value the planner made earlier (a first slice) is replaced: free it now rather than at finalisation.
            if (edits.TryGetValue(weight, out var old) && !ReferenceEquals(old, value))
            {
                _views.Remove(old);
                old.Dispose();
            }
            edits[weight] = value;
        }

        /// <summary>Frees every weight this planner made (when a coupling round starts over).</summary>
        public void DisposeEdits()
        {
            foreach (var edits in _weights.Values) foreach (var t in edits.Values) t.Dispose();
            _weights.Clear();
            _views.Clear();
            _gathers.Clear();
        }

        private void Slice(KerasLayer layer, string weight, int axis, long[] keep)
        {
            if (layer.FindWeight(weight) is null) return;
            var key = (layer.Name, weight);
            var pending = _gathers.GetValueOrDefault(key);
            var edits = _weights.TryGetValue(layer.Name, out var e) ? e : _weights[layer.Name] = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var current = edits.TryGetValue(weight, out var t) ? t : layer.FindWeight(weight)!.Value;
            var dim = (int)(axis < 0 ? current.dim() + axis : axis);
            if (pending is not null && pending.TryGetValue(dim, out var earlier))
            {
                // This axis is already waiting for a gather: compose the two selections.
                pending[dim] = keep.Select(k => earlier[k]).ToArray();
                return;
            }
            if (IsRange(keep))
            {
                // Kept channels in one run (the usual "drop the first or last k"): a view, no copy. Build makes the single
                // copy of each weight, however many axes were narrowed (pending gathers are on other axes: unaffected).
                var view = current.narrow(dim, keep.Length == 0 ? 0 : keep[0], keep.Length);
                _views.Add(view);
                SetWeight(layer, weight, view);
                return;
            }
            if (!edits.ContainsKey(weight))
            {
                // The gather will read the input model's weight through a view: Build copies what it gathers.
                var whole = current.alias();
                _views.Add(whole);
                edits[weight] = whole;
            }
            (pending ?? (_gathers[key] = new SortedDictionary<int, long[]>()))[dim] = keep;
        }

        private static bool IsRange(long[] keep)
        {
            for (var i = 1; i < keep.Length; i++) if (keep[i] != keep[0] + i) return false;
            return true;
        }

        private Deletion?[] Transfer(KerasLayer layer, int node, IReadOnlyList<TensorRef> refs, Deletion?[] ins)
        {
            var input = ins.Length > 0 ? ins[0] : null;
            // A layer called more than once must see the same deletion at every call (its weights are shared).
            if (_seenInputs.TryGetValue(layer.Name, out var seen))
            {
                if (seen.Length != ins.Length || seen.Where((d, i) => !(d is null ? ins[i] is null : d.SameAs(ins[i]))).Any())
                    throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) is shared by several calls that receive different channel deletions; its weights cannot fit both.");
                if (seen.Where((d, i) => d is not null && !d.Constants.SequenceEqual(ins[i]!.Constants)).Any())
                    NoteInexact(layer, "it is shared by calls whose deleted channels carry different constants; the first call's are folded");
            }
            else
            {
                _seenInputs[layer.Name] = ins;
            }

            var outRank = shapes.OutputShapes(layer.Name, node)?[0].Length ?? 0;
            Deletion? consumed = null;
            // Shared weights are repaired once, at the first call; later calls pass on what it passed on. (Layers
            // without weights work per call: a shared Flatten may see inputs of different sizes.)
            if (seen is not null && layer.Weights.Count > 0) consumed = _consumed.GetValueOrDefault(layer.Name);
            else if (refs.Count > 1 && ins.Any(d => d is not null)) consumed = ConsumeMany(layer, refs, ins, outRank);
            else if (input is not null) consumed = Consume(layer, refs[0], input, outRank);
            _consumed[layer.Name] = consumed;

            // A call fed only by a removed branch is removed too (whatever job it has).
            if (IsDead(consumed)) return (shapes.OutputShapes(layer.Name, node) ?? new[] { new int?[outRank] }).Select(_ => consumed).ToArray();
            if (deletions.TryGetValue(layer.Name, out var channels))
            {
                var count = ChannelCount(layer)!.Value;
                // A recurrent layer given its initial state by other tensors would need them to lose the units too.
                if (refs.Count > 1 && (s_recurrent.Contains(layer.ClassName) || s_convRecurrent.Contains(layer.ClassName) || layer.ClassName == "Bidirectional"))
                    throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) takes its initial state from {string.Join(", ", refs.Skip(1).Select(r => $"'{r.Layer}'"))}; deleting its units would need the same deletion on that state, which Surgeon does not do yet.");
                var mask = new bool[count];
                Array.Fill(mask, true);
                foreach (var c in channels) mask[c] = false;
                if (_targetsDone.Add(layer.Name))
                {
                    DeleteOutputs(layer, channels, Enumerable.Range(0, count).Where(c => mask[c]).Select(c => (long)c).ToArray(), count);
                    _channelCounts[layer.Name] = count - channels.Length;
                }
                // Every output loses the channels (an RNN's states as well as its output); a Bidirectional concatenating
                // its directions loses them in both halves.
                var outputs = shapes.OutputShapes(layer.Name, node) ?? new[] { new int?[outRank] };
                var concatenated = ConcatenatesDirections(layer);
                return outputs.Select((shape, t) => (Deletion?)new Deletion(OutputChannelAxis(layer, shape.Length), t == 0 && concatenated ? mask.Concat(mask).ToArray() : mask)).ToArray();
            }
            return new[] { consumed };
        }

        /// <summary>The gate suffixes of a Keras 1 recurrent layer stored per gate (W_i, U_i, b_i...), or empty.</summary>
        private static string[] Keras1Gates(KerasLayer layer) =>
            layer.Weights.Select(w => w.Name).Where(n => n.StartsWith("W_", StringComparison.Ordinal)).Select(n => n[2..]).ToArray();

        /// <summary>Slices a target's output side and updates its channel count.</summary>
        private void DeleteOutputs(KerasLayer layer, int[] channels, long[] keep, int count)
        {
            switch (layer.ClassName)
            {
                case "Bidirectional":
                    {
                        // Both directions lose the units (the backward layer is a mirror of the forward one).
                        var inner = Wrapped(layer.ConfigNode, "layer").ClassName!;
                        if (layer.ConfigNode["backward_layer"] is JsonObject && ChannelCount(Wrapped(layer.ConfigNode, "backward_layer").ClassName ?? "", Wrapped(layer.ConfigNode, "backward_layer").Config) != count)
                            throw new SurgeonException($"Bidirectional layer '{layer.Name}' has a backward layer of a different size; deleting units from both is not supported.");
                        DeleteRecurrentOutputs(layer, inner, "forward/", keep, count);
                        DeleteRecurrentOutputs(layer, inner, "backward/", keep, count);
                        break;
                    }
                case "TimeDistributed":
                    DeleteInnerOutputs(layer, Wrapped(layer.ConfigNode, "layer").ClassName!, keep, count);
                    break;
                default:
                    DeleteInnerOutputs(layer, layer.ClassName, keep, count);
                    break;
            }
        }

        private void DeleteRecurrentOutputs(KerasLayer layer, string className, string prefix, long[] keep, int count)
        {
            if (Keras1Gates(layer) is { Length: > 0 } gateNames)
            {
                // Keras 1 keeps one W_x (input, units), U_x (units, units) and b_x (units) per gate.
                foreach (var g in gateNames)
                {
                    Slice(layer, "W_" + g, -1, keep);
                    Slice(layer, "U_" + g, -1, keep);
                    Slice(layer, "U_" + g, 0, keep);
                    Slice(layer, "b_" + g, -1, keep);
                }
                return;
            }
            var gates = className switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
            var gateKeep = Enumerable.Range(0, gates).SelectMany(g => keep.Select(k => g * count + k)).ToArray();
            Slice(layer, prefix + "kernel", -1, gateKeep);
            Slice(layer, prefix + "recurrent_kernel", -1, gateKeep);
            Slice(layer, prefix + "recurrent_kernel", 0, keep);
            Slice(layer, prefix + "bias", -1, gateKeep);
        }

        private void DeleteInnerOutputs(KerasLayer layer, string className, long[] keep, int count)
        {
            switch (className)
            {
                case "Embedding":
                    Slice(layer, "embeddings", -1, keep);
                    break;
                case var c when s_convRecurrent.Contains(c):
                    {
                        // Four gate blocks of filters on the last axis; the recurrent kernel also loses its input channels.
                        var gateKeep = Enumerable.Range(0, 4).SelectMany(g => keep.Select(k => g * count + k)).ToArray();
                        Slice(layer, "kernel", -1, gateKeep);
                        Slice(layer, "recurrent_kernel", -1, gateKeep);
                        Slice(layer, "recurrent_kernel", -2, keep);
                        Slice(layer, "bias", -1, gateKeep);
                        break;
                    }
                case "Dense":
                    Slice(layer, "kernel", -1, keep);
                    Slice(layer, "bias", -1, keep);
                    break;
                case var c when s_conv.Contains(c):
                    Slice(layer, layer.FindWeight("kernel") is not null ? "kernel" : "W", -1, keep);
                    Slice(layer, layer.FindWeight("bias") is not null ? "bias" : "b", -1, keep);
                    break;
                case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                    Slice(layer, "kernel", -2, keep);
                    Slice(layer, "bias", -1, keep);
                    break;
                case "SeparableConv1D" or "SeparableConv2D":
                    Slice(layer, "pointwise_kernel", -1, keep);
                    Slice(layer, "bias", -1, keep);
                    break;
                case "SimpleRNN" or "GRU" or "LSTM":
                    DeleteRecurrentOutputs(layer, className, "", keep, count);
                    break;
                default:
                    throw new SurgeonException($"Deleting channels of layer '{layer.Name}' ({layer.ClassName}) is not supported yet.");
            }
        }

        /// <summary>A single-input layer receiving a deletion: repairs it and returns what it passes on.</summary>
        private Deletion? Consume(KerasLayer layer, TensorRef from, Deletion d, int outRank)
        {
            var inRank = Shape(from).Length;
            var keep = d.KeptIndices();
            var isChannelAxis = d.Axis == (ChannelsFirst(layer.ConfigNode) && inRank > 2 ? 1 : inRank - 1);
            switch (layer.ClassName)
            {
                case "Dense" or "TimeDistributedDense":
                    return ConsumeDense(layer, layer.ConfigNode, d, inRank, outRank);
                case var c when s_conv.Contains(c):
                    Require(layer, isChannelAxis, "its input's channel axis");
                    return ConsumeConv(layer, layer.ConfigNode, d, outRank);
                case var c when s_convRecurrent.Contains(c):
                    {
                        // Input (batch, time, ..., channels) or channels_first (batch, time, channels, ...).
                        Require(layer, d.Axis == (ChannelsFirst(layer.ConfigNode) ? 2 : inRank - 1), "its input's channel axis");
                        if (d.IsDead) throw new SurgeonException($"Every input channel of recurrent layer '{layer.Name}' is deleted; its output would not be a constant that can be removed. Delete fewer channels.");
                        if (d.HasConstants)
                        {
                            var w = Edited(layer, "kernel");
                            AddToBias(layer, Fold(d, w, -2));
                            if ((String(layer.ConfigNode, "padding") ?? "valid") != "valid")
                                NoteInexact(layer, "zero padding at the borders meets a deleted channel's non-zero constant");
                        }
                        Slice(layer, "kernel", -2, keep);
                        return null;
                    }
                case "Bidirectional":
                    {
                        Require(layer, Wrapped(layer.ConfigNode, "layer").ClassName is "SimpleRNN" or "GRU" or "LSTM" && d.Axis == inRank - 1, "the feature axis of a wrapped SimpleRNN, GRU or LSTM");
                        if (d.IsDead) throw new SurgeonException($"Every input channel of recurrent layer '{layer.Name}' is deleted; its output would not be a constant that can be removed. Delete fewer channels.");
                        foreach (var side in new[] { "forward/", "backward/" })
                        {
                            if (d.HasConstants) AddToBias(layer, Fold(d, Edited(layer, side + "kernel")), side);
                            Slice(layer, side + "kernel", 0, keep);
                        }
                        return null;
                    }
                case "TimeDistributed":
                    {
                        // The wrapped layer runs on every time step: the deletion's axis is one further right.
                        var (inner, innerConfig) = Wrapped(layer.ConfigNode, "layer");
                        var innerChannelAxis = ChannelsFirst(innerConfig) && inRank > 3 ? 2 : inRank - 1;
                        switch (inner)
                        {
                            case "Dense":
                                return ConsumeDense(layer, innerConfig, d, inRank, outRank);
                            case var ic when ic is not null && s_conv.Contains(ic):
                                Require(layer, d.Axis == innerChannelAxis, "its input's channel axis");
                                return ConsumeConv(layer, innerConfig, d, outRank);
                            case "Flatten":
                                return FlattenDeletion(layer, innerConfig, Shape(from), d, leading: 2);
                            case "BatchNormalization" or "LayerNormalization" or "PReLU" or "Activation":
                                throw new SurgeonException($"A channel deletion reaches layer '{layer.Name}' (TimeDistributed({inner})); use the {inner} layer directly (it already applies to every time step).");
                            case var ic when ic is not null && s_passThrough.Contains(ic):
                                Require(layer, d.Axis == innerChannelAxis, "its input's channel axis");
                                return d;
                            default:
                                throw new SurgeonException($"A channel deletion reaches layer '{layer.Name}' (TimeDistributed({inner})), which Surgeon cannot repair yet.");
                        }
                    }
                case "Conv1DTranspose" or "Conv2DTranspose" or "Conv3DTranspose":
                    Require(layer, isChannelAxis, "its input's channel axis");
                    if (d.HasConstants) NoteInexact(layer, "a transposed convolution spreads a deleted channel's constant unevenly");
                    Slice(layer, "kernel", -1, keep);
                    return DeadOutput(layer, d, outRank);
                case "DepthwiseConv1D" or "DepthwiseConv2D" or "SeparableConv1D" or "SeparableConv2D":
                    {
                        Require(layer, isChannelAxis, "its input's channel axis");
                        var multiplier = Int(layer.ConfigNode, "depth_multiplier") ?? 1;
                        // Constant carried by depthwise output k*m + j: constant_k * (sum of kernel taps of k, j).
                        var dk = Edited(layer, "depthwise_kernel");
                        var taps = dk.sum(Enumerable.Range(0, (int)dk.dim() - 2).Select(i => (long)i).ToArray()).reshape(-1); // (in * m)
                        var constants = d.Constants.SelectMany((c, k) => Enumerable.Range(0, multiplier).Select(j => c * taps[k * multiplier + j].item<float>())).ToArray();
                        if (d.HasConstants && (String(layer.ConfigNode, "padding") ?? "valid") != "valid")
                            NoteInexact(layer, "zero padding at the borders meets a deleted channel's non-zero constant");
                        Slice(layer, "depthwise_kernel", -2, keep);
                        var expanded = keep.SelectMany(c => Enumerable.Range(0, multiplier).Select(j => c * multiplier + j)).ToArray();
                        var mask = d.Keep.SelectMany(k => Enumerable.Repeat(k, multiplier)).ToArray();
                        if (layer.ClassName.StartsWith("Separable", StringComparison.Ordinal))
                        {
                            var pointwiseInput = new Deletion(d.Axis, mask, constants);
                            if (pointwiseInput.HasConstants) AddToBias(layer, Fold(pointwiseInput, Edited(layer, "pointwise_kernel"), -2));
                            Slice(layer, "pointwise_kernel", -2, expanded);
                            return DeadOutput(layer, d, outRank);
                        }
                        if (layer.FindWeight("bias") is { } bias)
                        {
                            var b = TensorValues.ToDoubles(bias.Value);
                            for (var i = 0; i < constants.Length; i++) if (!mask[i]) constants[i] += b[i];
                        }
                        Slice(layer, "bias", -1, expanded);
                        return new Deletion(d.Axis, mask, constants);
                    }
                case "SimpleRNN" or "GRU" or "LSTM":
                    Require(layer, d.Axis == inRank - 1, "its input's feature axis");
                    if (d.IsDead) throw new SurgeonException($"Every input channel of recurrent layer '{layer.Name}' is deleted; its output would not be a constant that can be removed. Delete fewer channels.");
                    foreach (var (kernel, bias) in Keras1Gates(layer) is { Length: > 0 } gates ? gates.Select(g => ("W_" + g, "b_" + g)) : new[] { ("kernel", "bias") })
                    {
                        if (d.HasConstants)
                        {
                            if (kernel == "kernel") AddToBias(layer, Fold(d, Edited(layer, kernel)));
                            else if (layer.FindWeight(bias) is not null && Fold(d, Edited(layer, kernel)) is { } delta) SetWeight(layer, bias, Edited(layer, bias).to_type(ScalarType.Float64).add(delta).to_type(ScalarType.Float32));
                        }
                        Slice(layer, kernel, 0, keep);
                    }
                    return null;
                case "BatchNormalization":
                    {
                        var axes = Forward.Kernels.AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 }).Select(a => a < 0 ? inRank + a : a).ToArray();
                        Require(layer, axes.Length == 1 && axes[0] == d.Axis, "its normalised axis");
                        // The deleted channels' constants go through the normalisation: c * scale + shift.
                        var epsilon = layer.ConfigNode["epsilon"] is JsonValue ev && ev.TryGetValue(out double eps) ? eps : 1e-3;
                        var (gamma, beta, mean, variance) = NormalizationStatistics(layer, d.Keep.Length);
                        var constants = new double[d.Keep.Length];
                        for (var k = 0; k < constants.Length; k++)
                            if (!d.Keep[k]) constants[k] = (d.Constants[k] - mean[k]) * gamma[k] / Math.Sqrt(variance[k] + epsilon) + beta[k];
                        foreach (var w in new[] { "gamma", "beta", "moving_mean", "moving_variance" }) Slice(layer, w, -1, keep);
                        return d with { Constants = constants };
                    }
                case "GroupNormalization":
                    {
                        var axis = Int(layer.ConfigNode, "axis") ?? -1;
                        Require(layer, (axis < 0 ? inRank + axis : axis) == d.Axis, "its channel axis");
                        var groups = Int(layer.ConfigNode, "groups") ?? 32;
                        var size = d.Keep.Length / groups;
                        var lost = Enumerable.Range(0, groups).Select(g => d.Keep.Skip(g * size).Take(size).Count(k => !k)).ToArray();
                        var constants = (double[])d.Constants.Clone();
                        if (lost.All(n => n == 0 || n == size))
                        {
                            // Whole groups go: the others keep their statistics (exact). A removed group of constants
                            // normalises to (c - mean) / sqrt(var + eps) * gamma + beta per channel.
                            var (gamma, beta, _, _) = NormalizationStatistics(layer, d.Keep.Length);
                            var epsilon = layer.ConfigNode["epsilon"] is JsonValue ev && ev.TryGetValue(out double eps) ? eps : 1e-3;
                            for (var g = 0; g < groups; g++)
                            {
                                if (lost[g] == 0) continue;
                                var c = d.Constants.Skip(g * size).Take(size).ToArray();
                                var mean = c.Average();
                                var variance = c.Select(v => (v - mean) * (v - mean)).Average();
                                for (var k = 0; k < size; k++) constants[g * size + k] = (c[k] - mean) / Math.Sqrt(variance + epsilon) * gamma[g * size + k] + beta[g * size + k];
                            }
                            var remaining = groups - lost.Count(n => n == size);
                            _configEdits[layer.Name] = config => config["groups"] = remaining;
                        }
                        else if (lost.Distinct().Count() == 1)
                        {
                            NoteInexact(layer, "every group loses channels, which changes the group statistics");
                        }
                        else
                        {
                            throw new SurgeonException($"Deleting these channels would leave GroupNormalization layer '{layer.Name}' with groups of different sizes; delete whole groups of {size} channels, or the same number from each of its {groups} groups.");
                        }
                        Slice(layer, "gamma", -1, keep);
                        Slice(layer, "beta", -1, keep);
                        return d with { Constants = constants };
                    }
                case "LayerNormalization":
                    {
                        var axes = Forward.Kernels.AxisConfig.Read(layer.ConfigNode, "axis", new[] { -1 }).Select(a => a < 0 ? inRank + a : a).ToArray();
                        Require(layer, axes.Length == 1 && axes[0] == d.Axis, "its normalised axis");
                        NoteInexact(layer, "it normalises over the channels, so removing channels changes its statistics");
                        Slice(layer, "gamma", -1, keep);
                        Slice(layer, "beta", -1, keep);
                        return d;
                    }
                case "PReLU":
                    {
                        var alpha = Edited(layer, "alpha");
                        Require(layer, d.Axis == inRank - 1, "its input's last axis");
                        var perChannel = alpha.shape[^1] != 1;
                        var a = alpha.reshape(-1, alpha.shape[^1]);
                        if (d.HasConstants && a.shape[0] != 1) NoteInexact(layer, "its alpha varies over positions while a deleted channel carries a constant");
                        var alphas = TensorValues.ToDoubles(a[0]);
                        var constants = d.Constants.Select((c, k) => c >= 0 ? c : alphas[perChannel ? k : 0] * c).ToArray();
                        if (perChannel) Slice(layer, "alpha", -1, keep);
                        return d with { Constants = constants };
                    }
                case "Softmax":
                    {
                        var axis = Int(layer.ConfigNode, "axis") ?? -1;
                        Require(layer, (axis < 0 ? inRank + axis : axis) != d.Axis, "an axis other than its softmax axis (deleting along it changes every value)");
                        return d;
                    }
                case "Activation" or "ReLU" or "LeakyReLU" or "ELU" or "ThresholdedReLU":
                    {
                        // The common activations directly (a zero becomes f(0), e.g. 0.5 for a sigmoid) ...
                        if (ScalarActivation(layer) is { } f) return d with { Constants = Array.ConvertAll(d.Constants, c => f(c)) };
                        // ... any other by running the layer itself on the constants.
                        using var kernel = Forward.KernelFactory.Create(layer, new Forward.ForwardContext(false, model.Source.KerasMajorVersion is 0 ? 2 : model.Source.KerasMajorVersion));
                        using var values = tensor(d.Constants.Select(v => (float)v).ToArray()).unsqueeze(0);
                        var outputs = kernel.Forward(new Forward.KernelInputs(new[] { values }, new Tensor?[] { null }), new Forward.ForwardContext(false, 2));
                        using var result = outputs.Tensors[0];
                        return d with { Constants = TensorValues.ToDoubles(result) };
                    }
                case "ZeroPadding1D" or "ZeroPadding2D" or "ZeroPadding3D":
                    Require(layer, isChannelAxis, "its input's channel axis (it pads the others)");
                    if (d.HasConstants) NoteInexact(layer, "its zero border meets a deleted channel's non-zero constant");
                    return d;
                case var c when s_spatial.Contains(c):
                    Require(layer, isChannelAxis, "its input's channel axis (it works on the others)");
                    return d;
                case var c when s_passThrough.Contains(c):
                    return d;
                case "GlobalMaxPooling1D" or "GlobalMaxPooling2D" or "GlobalMaxPooling3D" or "GlobalAveragePooling1D" or "GlobalAveragePooling2D" or "GlobalAveragePooling3D"
                    or "GlobalMaxPool1D" or "GlobalMaxPool2D" or "GlobalMaxPool3D" or "GlobalAvgPool1D" or "GlobalAvgPool2D" or "GlobalAvgPool3D":
                    Require(layer, isChannelAxis, "its input's channel axis");
                    return new Deletion(Bool(layer.ConfigNode, "keepdims", false) ? d.Axis : 1, d.Keep, d.Constants);
                case "Flatten":
                    return FlattenDeletion(layer, layer.ConfigNode, Shape(from), d, leading: 1);
                case "Reshape":
                    {
                        var target = Shape(new TensorRef(layer.Name, 0));
                        var source = Shape(from);
                        Require(layer, d.Axis == source.Length - 1 && target[^1] == source[^1], "an unchanged last axis (the Reshape would split or merge the channel axis)");
                        var kept = d.Keep.Count(k => k);
                        _configEdits[layer.Name] = config =>
                        {
                            if (config["target_shape"] is JsonArray shape && shape.Count > 0) shape[^1] = kept;
                        };
                        return new Deletion(target.Length - 1, d.Keep, d.Constants);
                    }
                case "Permute":
                    {
                        var dims = Ints(layer.ConfigNode, 0, "dims")!;
                        return new Deletion(Array.IndexOf(dims, d.Axis) + 1, d.Keep, d.Constants);
                    }
                case "RepeatVector":
                    return new Deletion(2, d.Keep, d.Constants);
                case "Concatenate":
                    return ConsumeMany(layer, layer.InboundNodes[0].Inputs, new[] { d }, outRank);
                case "Embedding":
                    throw new SurgeonException($"Channels cannot be deleted before Embedding layer '{layer.Name}': its inputs are indices, not channels.");
                default:
                    throw new SurgeonException($"A channel deletion reaches layer '{layer.Name}' ({layer.ClassName}), which Surgeon cannot repair yet.");
            }
        }

        /// <summary>Multi-input layers: Concatenate offsets the deletions; merges pass one shared deletion.</summary>
        private Deletion? ConsumeMany(KerasLayer layer, IReadOnlyList<TensorRef> refs, Deletion?[] ins, int outRank)
        {
            if (s_merges.Contains(layer.ClassName))
            {
                // Every input carries the same deletion (coupling saw to it); combine their constants as the merge does.
                var all = ins.Select(d => d!).ToArray();
                Func<double, double, double> step = layer.ClassName switch
                {
                    "Add" or "Average" => (x, y) => x + y,
                    "Subtract" => (x, y) => x - y,
                    "Multiply" => (x, y) => x * y,
                    "Maximum" => Math.Max,
                    _ => Math.Min,
                };
                var combined = (double[])all[0].Constants.Clone();
                for (var j = 1; j < all.Length; j++)
                {
                    var next = all[j].Constants;
                    for (var i = 0; i < combined.Length; i++) combined[i] = step(combined[i], next[i]);
                }
                if (layer.ClassName == "Average") for (var i = 0; i < combined.Length; i++) combined[i] /= all.Length;
                return all[0] with { Constants = combined };
            }
            if (layer.ClassName == "MultiHeadAttention") return ConsumeAttention(layer, refs, ins);
            if (layer.ClassName != "Concatenate")
                throw new SurgeonException($"A channel deletion reaches layer '{layer.Name}' ({layer.ClassName}), which Surgeon cannot repair yet.");
            var rank = Shape(refs[0]).Length;
            var axis = Int(layer.ConfigNode, "axis") ?? -1;
            axis = axis < 0 ? rank + axis : axis;
            var keep = new List<bool>();
            var constants = new List<double>();
            for (var i = 0; i < refs.Count; i++)
            {
                var d = i < ins.Length ? ins[i] : null;
                if (d is not null && d.Axis != axis)
                    throw new SurgeonException($"Concatenate layer '{layer.Name}' joins on axis {axis} but a deletion on axis {d.Axis} reaches it; that is not supported yet.");
                var size = Shape(refs[i])[axis] ?? throw new SurgeonException($"Concatenate layer '{layer.Name}' has an input of unknown size on axis {axis}.");
                keep.AddRange(d?.Keep ?? Enumerable.Repeat(true, size));
                constants.AddRange(d?.Constants ?? new double[size]);
            }
            return new Deletion(axis, keep.ToArray(), constants.ToArray());
        }

        /// <summary>
        /// MultiHeadAttention: the query, key and value projections drop the input rows of deleted features (their
        /// constants folded into the projection biases). The output keeps its size: when the query loses features and
        /// <c>output_shape</c> was implied by them, it is written out, so the layers after it are untouched.
        /// </summary>
        private Deletion? ConsumeAttention(KerasLayer layer, IReadOnlyList<TensorRef> refs, Deletion?[] ins)
        {
            var call = Forward.Kernels.Attention.AttentionCall.For(layer, multiHead: true);
            var masks = new[] { call.QueryMask, call.ValueMask, call.KeyMask, call.AttentionMask };
            if (masks.Any(m => m >= 0 && m < ins.Length && ins[m] is not null))
                throw new SurgeonException($"A channel deletion reaches a mask argument of attention layer '{layer.Name}'; masks are not features and cannot lose channels.");
            foreach (var (role, index) in new[] { ("query", call.Query), ("value", call.Value), ("key", call.Key >= 0 ? call.Key : call.Value) })
            {
                if (ins[index] is not { } d) continue;
                Require(layer, d.Axis == Shape(refs[index]).Length - 1, $"the feature axis of its {role}");
                if (d.IsDead) throw new SurgeonException($"Every {role} feature of attention layer '{layer.Name}' is deleted; delete fewer channels.");
                var kernel = Edited(layer, role + "/kernel"); // (features, heads, dim)
                if (d.HasConstants)
                {
                    using var delta = Fold(d, kernel); // (heads, dim)
                    if (layer.FindWeight(role + "/bias") is null) NoteInexact(layer, $"a deleted {role} feature carries a constant but the projection has no bias");
                    else if (delta is not null)
                    {
                        var bias = Edited(layer, role + "/bias");
                        SetWeight(layer, role + "/bias", (bias.to_type(ScalarType.Float64) + delta).to_type(bias.dtype));
                    }
                }
                Slice(layer, role + "/kernel", 0, d.KeptIndices());
                if (role == "query" && IsNull(layer.ConfigNode["output_shape"]))
                {
                    var features = d.Keep.Length;
                    _configEdits[layer.Name] = config => config["output_shape"] = features;
                }
            }
            return null;
        }

        /// <summary>
        /// A normalisation layer's gamma, beta, moving mean and variance as doubles, with the identity's values for
        /// those it does not have (scale or center off; GroupNormalization keeps no moving statistics).
        /// </summary>
        private static (double[] Gamma, double[] Beta, double[] Mean, double[] Variance) NormalizationStatistics(KerasLayer layer, int channels)
        {
            double[] Read(string name, double missing)
            {
                if (layer.FindWeight(name)?.Value is not { } t)
                {
                    var filled = new double[channels];
                    Array.Fill(filled, missing);
                    return filled;
                }
                return TensorValues.ToDoubles(t);
            }
            return (Read("gamma", 1), Read("beta", 0), Read("moving_mean", 0), Read("moving_variance", 1));
        }

        /// <summary>A managed form of the layer's activation when it is one of the common ones (null otherwise).</summary>
        private static Func<double, double>? ScalarActivation(KerasLayer layer)
        {
            var config = layer.ConfigNode;
            var name = layer.ClassName switch
            {
                "Activation" => String(config, "activation"),
                // ReLU with its defaults only (no max_value, negative_slope or threshold).
                "ReLU" when IsNull(config["max_value"]) && (config["negative_slope"] is null || Double(config, "negative_slope") == 0) && (config["threshold"] is null || Double(config, "threshold") == 0) => "relu",
                _ => null,
            };
            return name switch
            {
                "relu" => c => c > 0 ? c : 0,
                "linear" => c => c,
                "sigmoid" => c => 1 / (1 + Math.Exp(-c)),
                "tanh" => Math.Tanh,
                _ => null,
            };
        }

        private static double? Double(JsonObject config, string key) => config[key] is JsonValue v && v.TryGetValue(out double x) ? x : null;

        private static bool IsNull(JsonNode? node) => node is null || (node is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.Null);

        /// <summary>
        /// Keras 3 builds each layer from its <c>build_config</c> input shape before loading weights: rewrite the shapes
        /// that a deletion changed so the saved file reloads.
        /// </summary>
        private static void UpdateBuildConfigs(KerasModel result)
        {
            var shapes = ShapeInference.For(result);
            foreach (var layer in result.Layers)
            {
                var build = layer.Entry["build_config"] as JsonObject ?? new JsonObject();
                if ((!layer.Entry.ContainsKey("build_config") && layer.ClassName != "MultiHeadAttention") || layer.InboundNodes.Count == 0) continue;
                var inputs = layer.InboundNodes[0].Inputs.Select(r => shapes.OutputShapes(r.Layer, r.NodeIndex) is { } o && r.TensorIndex < o.Count ? o[r.TensorIndex] : null).ToArray();
                static JsonArray ToJson(int?[] shape) => new(shape.Select(d => (JsonNode?)(d is null ? null : JsonValue.Create(d.Value))).ToArray());
                if (layer.ClassName == "MultiHeadAttention")
                {
                    // Attention records each argument's shape by name (Keras 3 build_config, tf.keras config).
                    var call = Forward.Kernels.Attention.AttentionCall.For(layer, multiHead: true);
                    foreach (var named in new[] { build["shapes_dict"] as JsonObject, layer.Entry["config"] as JsonObject })
                        foreach (var (key, index) in new[] { ("query_shape", call.Query), ("value_shape", call.Value), ("key_shape", call.Key) })
                            if (named is not null && index >= 0 && index < inputs.Length && inputs[index] is { } shape && named.ContainsKey(key) && !IsNull(named[key]) && !JsonNode.DeepEquals(named[key], ToJson(shape)))
                                named[key] = ToJson(shape);
                    continue;
                }
                if (!build.ContainsKey("input_shape") || inputs.Any(i => i is null)) continue;
                JsonNode updated = inputs.Length == 1 ? ToJson(inputs[0]!) : new JsonArray(inputs.Select(i => (JsonNode?)ToJson(i!)).ToArray());
                if (!JsonNode.DeepEquals(updated, build["input_shape"])) build["input_shape"] = updated;
            }
        }

        private Deletion? ConsumeDense(KerasLayer layer, JsonObject config, Deletion d, int inRank, int outRank)
        {
            Require(layer, d.Axis == inRank - 1, "its input's last axis");
            if (d.HasConstants) AddToBias(layer, Fold(d, Edited(layer, "kernel")));
            Slice(layer, "kernel", 0, d.KeptIndices());
            return DeadOutput(layer, d, outRank, config);
        }

        private Deletion? ConsumeConv(KerasLayer layer, JsonObject config, Deletion d, int outRank)
        {
            if ((Int(config, "groups") ?? 1) != 1)
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) is a grouped convolution; deleting some of its input channels would leave groups of different sizes, which Keras cannot express.");
            var kernelName = layer.FindWeight("kernel") is not null ? "kernel" : "W";
            if (d.HasConstants)
            {
                // A constant input channel adds constant * (sum of its kernel taps) to every output position.
                AddToBias(layer, Fold(d, Edited(layer, kernelName), -2));
                if ((String(config, "padding", "border_mode") ?? "valid") != "valid")
                    NoteInexact(layer, "zero padding at the borders meets a deleted channel's non-zero constant");
            }
            Slice(layer, kernelName, -2, d.KeptIndices());
            return DeadOutput(layer, d, outRank, config);
        }

        /// <summary>
        /// Flatten (or TimeDistributed(Flatten), <paramref name="leading"/> = 2) turns a channel deletion into kept features:
        /// the channel flags and constants laid out on the full tensor shape, then flattened as Flatten does.
        /// </summary>
        private static Deletion FlattenDeletion(KerasLayer layer, JsonObject config, int?[] shape, Deletion d, int leading)
        {
            if (shape.Skip(leading).Any(s => s is null)) throw new SurgeonException($"Flatten layer '{layer.Name}' has an input of unknown size; the flattened features of a deleted channel cannot be located.");
            var dims = shape.Skip(leading).Select(s => (long)s!.Value).ToArray();
            var view = Enumerable.Repeat(1L, dims.Length).ToArray();
            view[d.Axis - leading] = d.Keep.Length;
            using var keepFlags = tensor(d.Keep).reshape(view).expand(dims);
            using var constValues = tensor(d.Constants).reshape(view).expand(dims);
            // channels_first Flatten moves the channels last first (as Keras does for TF's layout).
            var permutation = Enumerable.Range(1, dims.Length - 1).Append(0).Select(i => (long)i).ToArray();
            var channelsFirstFlatten = ChannelsFirst(config) && shape.Length > leading + 1;
            using var flatKeep = (channelsFirstFlatten ? keepFlags.permute(permutation) : keepFlags).reshape(-1).contiguous();
            using var flatConst = (channelsFirstFlatten ? constValues.permute(permutation) : constValues).reshape(-1).contiguous();
            return new Deletion(leading, flatKeep.data<bool>().ToArray(), TensorValues.ToDoubles(flatConst));
        }

        /// <summary>
        /// A weighted layer whose every input channel is gone outputs a constant per channel, activation(bias) (its
        /// input's constants already folded into that bias): the layer is removed and passes on a dead tensor carrying it.
        /// Null (nothing passed on) while some input channel is kept.
        /// </summary>
        private Deletion? DeadOutput(KerasLayer layer, Deletion d, int outRank, JsonObject? config = null)
        {
            if (!d.IsDead) return null;
            config ??= layer.ConfigNode;
            var count = ChannelCount(layer) ?? Int(config, "units", "filters") ?? throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) loses every input channel and its output size is unknown.");
            var biasName = layer.FindWeight("bias") is not null ? "bias" : layer.FindWeight("b") is not null ? "b" : null;
            using var scope = NewDisposeScope();
            var bias = biasName is null ? zeros(count, dtype: ScalarType.Float32) : Edited(layer, biasName).to_type(ScalarType.Float32).cpu().reshape(-1);
            var activated = Forward.Activations.Apply(String(config, "activation"), bias, model.Source.KerasMajorVersion is 0 ? 2 : model.Source.KerasMajorVersion);
            return new Deletion(OutputChannelAxis(layer, outRank), new bool[count], TensorValues.ToDoubles(activated));
        }

        private static void Require(KerasLayer layer, bool ok, string what)
        {
            if (!ok) throw new SurgeonException($"A channel deletion reaches layer '{layer.Name}' ({layer.ClassName}) on an axis it cannot repair; Surgeon handles deletions along {what}.");
        }

        /// <summary>The new model: edited weights and channel counts, every other weight copied.</summary>
        public KerasModel Build()
        {
            var created = new List<Tensor>();
            try
            {
                foreach (var gone in _removed)
                    if (_weights.Remove(gone, out var edits)) foreach (var t in edits.Values) t.Dispose();
                // A bypassed Concatenate's output resolves to its remaining input (through chains of bypasses).
                TensorRef Resolve(TensorRef t)
                {
                    while (_bypass.TryGetValue(t, out var next)) t = next;
                    return t;
                }
                var bypass = _bypass.Keys.ToDictionary(t => t, Resolve);
                var layers = model.Layers.Where(l => !_removed.Contains(l.Name)).Select(l =>
                {
                    var nodes = Rewiring.Rewire(l.InboundNodes.Select((node, n) => _nodeEdits.GetValueOrDefault((l.Name, n)) ?? node).ToArray(), bypass);
                    // Entries that may change (channel counts, Keras 3 build shapes) are copied: the input model stays as it was.
                    var entry = _channelCounts.ContainsKey(l.Name) || _configEdits.ContainsKey(l.Name) || _weights.ContainsKey(l.Name) || l.Entry["build_config"] is not null ? (JsonObject)l.Entry.DeepClone() : l.Entry;
                    if (_configEdits.TryGetValue(l.Name, out var edit)) edit((JsonObject)entry["config"]!);
                    if (_channelCounts.TryGetValue(l.Name, out var count))
                    {
                        var config = (JsonObject)entry["config"]!;
                        // A wrapper's count lives in its wrapped layer(s).
                        var counted = l.ClassName is "Bidirectional" or "TimeDistributed"
                            ? new[] { "layer", "backward_layer" }.Select(k => (config[k] as JsonObject)?["config"] as JsonObject).Where(c => c is not null).Select(c => c!)
                            : new[] { config };
                        foreach (var c in counted)
                            foreach (var key in new[] { "units", "filters", "output_dim", "nb_filter" })
                                if (c.ContainsKey(key)) c[key] = count;
                    }
                    var weights = l.Weights.Select(w =>
                    {
                        Tensor value;
                        if (_weights.TryGetValue(l.Name, out var e) && e.TryGetValue(w.Name, out var t))
                        {
                            // Pending gathers run once, into a new tensor; a view of the input model is copied
                            // (contiguously); a tensor the planner made is only made contiguous.
                            value = _gathers.Remove((l.Name, w.Name), out var pending) ? Gather(t, pending)
                                : _views.Contains(t) ? (t.is_contiguous() ? t.clone() : t.contiguous()) : t.contiguous();
                            if (!ReferenceEquals(value, t)) t.Dispose(); // the planner's handle is no longer needed
                        }
                        else
                        {
                            value = w.Value.clone();
                        }
                        created.Add(value);
                        return new KerasWeight(w.Name, value, w.Trainable, w.StoredName, w.ArchivePath);
                    }).ToArray();
                    // A nested model is carried unchanged (a deletion reaching it is refused while propagating).
                    return new KerasLayer(entry, l.ClassName, l.Name, nodes, weights, Rewiring.CopyNested(l, created), l.IsSynthesized) { ArchiveGroupNames = l.ArchiveGroupNames };
                }).ToArray();
                var outputs = model.Outputs.Select(o => bypass.GetValueOrDefault(o, o)).ToArray();
                var root = model.Root;
                if (!outputs.SequenceEqual(model.Outputs))
                {
                    root = (JsonObject)model.Root.DeepClone();
                    Rewiring.Rewrite(root["config"]?["output_layers"], bypass);
                }
                // Compile settings stay valid; optimizer state (per-weight slots) does not fit the new shapes and is dropped.
                var result = model.Derive(layers, outputs, root);
                UpdateBuildConfigs(result);
                return result;
            }
            catch
            {
                foreach (var t in created) t.Dispose();
                throw;
            }
        }
    }
}
