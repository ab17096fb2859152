namespace Surgeon;

/// <summary>How a <see cref="ModelSurgeon"/> treats layers coupled by element-wise merges (residual Add and the like).</summary>
public enum CouplingPolicy
{
    /// <summary>
    /// Deleting channel k from one producer of a merge deletes channel k from every producer of that merge (the
    /// coupled group), reported in <see cref="SurgeryResult.CoupledLayers"/>.
    /// </summary>
    DeleteFromGroup,
    /// <summary>Refuse: a deletion reaching a merge whose other inputs keep those channels is an error naming the layers.</summary>
    Refuse,
}

/// <summary>
/// Surgery on a Keras model: collects jobs, validates each when it is added, and applies them all in one pass over
/// the graph, returning a new model (the input model is never changed).
/// </summary>
public sealed class ModelSurgeon
{
    private readonly KerasModel _model;
    private readonly Dictionary<string, int[]> _deletions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _deletedLayers = new(StringComparer.Ordinal);
    private readonly List<LayerEdit> _edits = new();
    // Calls (layer, node index) that already have a job: one job per call.
    private readonly HashSet<(string, int)> _claimed = new();
    // Jobs on some calls of a shared layer run on a copy of the layer that takes those calls (made first in Operate).
    private readonly List<(string Layer, int[] Calls, string Copy)> _splits = new();

    /// <summary>Starts surgery on <paramref name="model"/>.</summary>
    public ModelSurgeon(KerasModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsOpaque) throw new SurgeonException($"Model '{model.Name}' is a subclassed {model.ClassName} without a layer graph; surgery needs a Functional or Sequential model.");
        _model = model;
    }

    /// <summary>How coupled producers of element-wise merges are handled (default: delete from the whole group).</summary>
    public CouplingPolicy Coupling { get; init; } = CouplingPolicy.DeleteFromGroup;

    /// <summary>
    /// Deletes output channels (Dense units, convolution filters, recurrent units) of <paramref name="layer"/> and
    /// repairs every layer downstream. Negative indices count from the end (-1 is the last channel), as in Python.
    /// Deleting every channel removes the layer's branch: the layers fed only by it go, and a Concatenate it feeds
    /// loses that input (bypassed when one input is left). Validated now: the layer exists and has channels, indices
    /// are in range and distinct, no other job targets it, and a removed branch reaches no model output.
    /// </summary>
    /// <exception cref="SurgeonException">The job is invalid; the message names the layer and the argument.</exception>
    /// <param name="layer">The layer whose output channels go.</param>
    /// <param name="channels">The channel indices.</param>
    /// <param name="nodeIndices">
    /// For a shared layer, the calls (Keras node indices) to prune; null for all. The pruned calls are then made by a
    /// copy of the layer named <c>&lt;layer&gt;_delete_channels</c> (as keras-surgeon names it); the other calls keep the
    /// original layer and weights.
    /// </param>
    public ModelSurgeon DeleteChannels(string layer, IEnumerable<int> channels, IEnumerable<int>? nodeIndices = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(channels);
        var target = _model.RequireLayer(layer);
        var count = ChannelDeletion.ChannelCount(target)
            ?? throw new SurgeonException($"Layer '{layer}' ({target.ClassName}) has no channels to delete: only layers with units or filters (Dense, convolutions, recurrent layers, Embedding, and those wrapped in Bidirectional or TimeDistributed) do.");
        var list = channels.ToArray();
        if (list.Length == 0) throw new SurgeonException($"DeleteChannels on layer '{layer}': no channels given.");
        var bad = list.Where(c => c < -count || c >= count).ToArray();
        if (bad.Length > 0)
            throw new SurgeonException($"DeleteChannels on layer '{layer}': channel index(es) {string.Join(", ", bad)} out of range; the layer has {count} channels (0 to {count - 1}, or -{count} to -1 from the end).");
        var duplicates = list.GroupBy(c => c < 0 ? c + count : c).Where(g => g.Count() > 1)
            .Select(g => g.Distinct().Count() > 1 ? $"{g.Key} (as {string.Join(" and ", g.Distinct())})" : $"{g.Key}").ToArray();
        if (duplicates.Length > 0)
            throw new SurgeonException($"DeleteChannels on layer '{layer}': channel index(es) {string.Join(", ", duplicates)} given more than once.");
        var calls = Calls(target, nodeIndices, "DeleteChannels");
        if (list.Length == count && calls is null) ChannelDeletion.CheckBranchRemoval(_model, target, count);
        Claim(target, calls);
        list = list.Select(c => c < 0 ? c + count : c).ToArray();
        _deletions[calls is null ? layer : Split(target, calls, "delete_channels")] = list.Order().ToArray();
        return this;
    }

    /// <summary>The validated node indices of a job, or null when it covers every call of the layer.</summary>
    private static int[]? Calls(KerasLayer target, IEnumerable<int>? nodeIndices, string job)
    {
        if (nodeIndices is null) return null;
        var calls = nodeIndices.ToArray();
        var count = target.InboundNodes.Count;
        if (calls.Length == 0) throw new SurgeonException($"{job} on layer '{target.Name}': no node indices given (pass null for every call).");
        var bad = calls.Where(n => n < 0 || n >= count).ToArray();
        if (bad.Length > 0)
            throw new SurgeonException($"{job} on layer '{target.Name}': node index(es) {string.Join(", ", bad)} out of range; the layer is called {count} time(s) (0 to {count - 1}).");
        var duplicates = calls.GroupBy(n => n).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (duplicates.Length > 0)
            throw new SurgeonException($"{job} on layer '{target.Name}': node index(es) {string.Join(", ", duplicates)} given more than once.");
        return calls.Length == count ? null : calls.Order().ToArray();
    }

    /// <summary>Marks the job's calls as taken; a call takes one job.</summary>
    private void Claim(KerasLayer target, int[]? calls)
    {
        var nodes = calls ?? Enumerable.Range(0, Math.Max(1, target.InboundNodes.Count)).ToArray();
        var taken = nodes.Where(n => _claimed.Contains((target.Name, n))).ToArray();
        if (taken.Length > 0)
            throw new SurgeonException(target.InboundNodes.Count > 1
                ? $"Layer '{target.Name}' already has a job on call(s) {string.Join(", ", taken)}; one call takes one job."
                : $"Layer '{target.Name}' already has a job; one layer takes one job.");
        foreach (var n in nodes) _claimed.Add((target.Name, n));
    }

    /// <summary>Registers a copy of <paramref name="target"/> for <paramref name="calls"/> and returns its (free) name.</summary>
    private string Split(KerasLayer target, int[] calls, string suffix)
    {
        var stem = $"{target.Name}_{suffix}";
        var name = stem;
        for (var i = 1; _model.FindLayer(name) is not null || _splits.Any(s => s.Copy == name) || _edits.Any(e => e.Spec.Name == name); i++) name = $"{stem}_{i}";
        _splits.Add((target.Name, calls, name));
        return name;
    }

    /// <summary>
    /// Deletes <paramref name="layer"/>: its consumers take its input instead. The layer must have one input and keep
    /// its input's shape (Dropout, BatchNormalization, activations, same-size Dense ...), checked when the surgery runs.
    /// </summary>
    /// <param name="layer">The layer to delete.</param>
    /// <param name="nodeIndices">For a shared layer, the calls to delete; null for all (the other calls stay).</param>
    public ModelSurgeon DeleteLayer(string layer, IEnumerable<int>? nodeIndices = null)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var target = _model.RequireLayer(layer);
        var calls = Calls(target, nodeIndices, "DeleteLayer");
        Claim(target, calls);
        _deletedLayers.Add(calls is null ? layer : Split(target, calls, "deleted"));
        return this;
    }

    /// <summary>
    /// Inserts <paramref name="newLayer"/> between <paramref name="layer"/> and its input (only that layer's input:
    /// other consumers of the same tensor keep it). The new layer must keep its input's shape. A layer called several
    /// times gets one new layer, shared by all its calls. Checked when the surgery runs.
    /// </summary>
    /// <param name="layer">The layer whose input gets the new layer.</param>
    /// <param name="newLayer">The layer to insert.</param>
    /// <param name="nodeIndices">For a shared layer, the calls whose input gets it; null for all.</param>
    public ModelSurgeon InsertLayerBefore(string layer, LayerSpec newLayer, IEnumerable<int>? nodeIndices = null) => AddEdit(LayerEditKind.InsertBefore, layer, newLayer, nodeIndices);

    /// <summary>
    /// Inserts <paramref name="newLayer"/> after <paramref name="layer"/>: every consumer of its output (and a model
    /// output on it) takes the new layer's output instead. The new layer must keep the shape. Checked when the surgery runs.
    /// </summary>
    /// <param name="layer">The layer whose output goes through the new layer.</param>
    /// <param name="newLayer">The layer to insert.</param>
    /// <param name="nodeIndices">For a shared layer, the calls whose outputs go through it; null for all.</param>
    public ModelSurgeon InsertLayerAfter(string layer, LayerSpec newLayer, IEnumerable<int>? nodeIndices = null) => AddEdit(LayerEditKind.InsertAfter, layer, newLayer, nodeIndices);

    /// <summary>
    /// Puts <paramref name="newLayer"/> in place of <paramref name="layer"/>, called on the same inputs; it must output
    /// the same shape (so the layers after it still fit). Give <see cref="LayerSpec.Name"/> the old name to keep it.
    /// Checked when the surgery runs.
    /// </summary>
    /// <param name="layer">The layer to replace.</param>
    /// <param name="newLayer">The layer that takes its place.</param>
    /// <param name="nodeIndices">For a shared layer, the calls to replace; null for all (the other calls keep the old layer).</param>
    public ModelSurgeon ReplaceLayer(string layer, LayerSpec newLayer, IEnumerable<int>? nodeIndices = null) => AddEdit(LayerEditKind.Replace, layer, newLayer, nodeIndices);

    private ModelSurgeon AddEdit(LayerEditKind kind, string layer, LayerSpec newLayer, IEnumerable<int>? nodeIndices)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(newLayer);
        var target = _model.RequireLayer(layer);
        if (kind != LayerEditKind.InsertAfter && target.ClassName == "InputLayer")
            throw new SurgeonException($"Layer '{layer}' is an input layer; a layer can only be inserted after it.");
        var calls = Calls(target, nodeIndices, kind == LayerEditKind.Replace ? "ReplaceLayer" : "InsertLayer");
        if (newLayer.Name is { } name)
        {
            // Replacing every call may keep the old name; replacing some leaves the old layer in place.
            var keepsName = kind == LayerEditKind.Replace && name == layer && calls is null;
            if (!keepsName && _model.FindLayer(name) is not null)
                throw new SurgeonException($"New layer name '{name}' is already used by a layer of model '{_model.Name}'.");
            if (_edits.Any(e => e.Spec.Name == name))
                throw new SurgeonException($"New layer name '{name}' is given to two new layers.");
        }
        Claim(target, calls);
        // Insertions change only the chosen calls' wiring (the layer stays shared); a replacement of some calls
        // replaces a copy of the layer that takes them.
        _edits.Add(kind == LayerEditKind.Replace && calls is not null
            ? new LayerEdit(kind, Split(target, calls, "replaced"), newLayer)
            : new LayerEdit(kind, layer, newLayer, calls));
        return this;
    }

    /// <summary>
    /// Applies every job (channel deletions, then layer deletions, then insertions and replacements, each in the order
    /// added); the result owns a new model (weights are new tensors on the same device).
    /// </summary>
    public SurgeryResult Operate()
    {
        // Node indices are given in the input model's numbering; a split renumbers the calls its layer keeps.
        var splitOff = _splits.GroupBy(x => x.Layer).ToDictionary(g => g.Key, _ => new List<int>());
        int Renumbered(string layer, int call) => splitOff.TryGetValue(layer, out var gone) ? call - gone.Count(g => g < call) : call;
        SurgeryResult? channels = null;
        var steps = new List<Func<KerasModel, KerasModel>>();
        // Jobs on some calls of a shared layer first get their copy of the layer.
        foreach (var (layer, calls, copy) in _splits)
        {
            steps.Add(m =>
            {
                var next = CallSplitting.Apply(m, layer, calls.Select(c => Renumbered(layer, c)).ToArray(), copy);
                splitOff[layer].AddRange(calls);
                return next;
            });
        }
        if (_deletions.Count > 0 || (_deletedLayers.Count == 0 && _edits.Count == 0))
            steps.Add(m => (channels = ChannelDeletion.Apply(m, _deletions, Coupling)).Model);
        if (_deletedLayers.Count > 0) steps.Add(m => LayerDeletion.Apply(m, _deletedLayers));
        steps.AddRange(_edits.Select(e => (Func<KerasModel, KerasModel>)(m =>
            LayerEditing.Apply(m, e.Calls is null ? e : e with { Calls = e.Calls.Select(c => Renumbered(e.Target, c)).ToArray() }))));
        var model = Chain(steps);
        if (channels is not null && ReferenceEquals(model, channels.Model)) return channels;
        var changed = (channels?.ChangedLayers ?? Array.Empty<string>()).Concat(_deletedLayers).Concat(_edits.Select(e => e.Target))
            .Concat(model.Layers.Select(l => l.Name).Where(n => _model.FindLayer(n) is null)).Distinct().Order(StringComparer.Ordinal).ToList();
        return new SurgeryResult(model, channels?.DeletedChannels ?? new Dictionary<string, int[]>(), changed, channels?.CoupledLayers ?? Array.Empty<string>())
        {
            InexactLayers = channels?.InexactLayers ?? Array.Empty<string>(),
            RemovedLayers = channels?.RemovedLayers ?? Array.Empty<string>(),
        };
    }
    /// <summary>
    /// Runs <paramref name="steps"/> in order, each making a new model from the previous one, which is then freed (never
    /// the input model); if a step fails, the model it was given is freed too.
    /// </summary>
    private KerasModel Chain(IEnumerable<Func<KerasModel, KerasModel>> steps)
    {
        var model = _model;
        try
        {
            foreach (var step in steps)
            {
                var next = step(model);
                if (!ReferenceEquals(model, _model)) model.Dispose();
                model = next;
            }
        }
        catch
        {
            if (!ReferenceEquals(model, _model)) model.Dispose();
            throw;
        }
        return model;
    }
}

/// <summary>The outcome of a surgery: the new model and what changed. Dispose it (or take the model) when done.</summary>
public sealed class SurgeryResult : IDisposable
{
    internal SurgeryResult(KerasModel model, IReadOnlyDictionary<string, int[]> deleted, IReadOnlyList<string> changed, IReadOnlyList<string> coupled)
    {
        Model = model;
        DeletedChannels = deleted;
        ChangedLayers = changed;
        CoupledLayers = coupled;
    }

    /// <summary>The operated model (owned by this result until disposed).</summary>
    public KerasModel Model { get; }

    /// <summary>Channels deleted from each layer, including layers pulled in by coupling.</summary>
    public IReadOnlyDictionary<string, int[]> DeletedChannels { get; }

    /// <summary>Every layer whose config or weights changed.</summary>
    public IReadOnlyList<string> ChangedLayers { get; }

    /// <summary>Layers whose channels were deleted because an element-wise merge couples them to a job's layer.</summary>
    public IReadOnlyList<string> CoupledLayers { get; }

    /// <summary>
    /// Layers removed because every channel of their branch was deleted (the pruned layer, the layers fed only by it,
    /// and a Concatenate left with one input).
    /// </summary>
    public IReadOnlyList<string> RemovedLayers { get; init; } = Array.Empty<string>();

    /// <summary>
    /// Where the result is not exactly the original with the deleted channels zeroed, and why (e.g. a deleted channel's
    /// constant meets zero padding at the borders). Empty when the surgery is exact.
    /// </summary>
    public IReadOnlyList<string> InexactLayers { get; init; } = Array.Empty<string>();

    /// <summary>
    /// Checks the surgery numerically: runs <paramref name="original"/> with the deleted channels forced to zero and the
    /// operated model on the same random inputs (uniform in [-1, 1], <paramref name="batch"/> samples, seeded), and
    /// returns the largest absolute difference over all outputs: float rounding for an exact surgery (constants that
    /// deleted channels carry through BatchNormalization or biases are folded into the consumers' biases), larger where
    /// <see cref="InexactLayers"/> says why.
    /// </summary>
    public double MaxDifference(KerasModel original, int batch = 4, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(original);
        if (DeletedChannels.Keys.FirstOrDefault(k => original.FindLayer(k) is null) is { } copy)
            throw new SurgeonException($"Layer '{copy}' is a copy made for a job on some calls of a shared layer; the masked original cannot zero one call only, so this surgery cannot be verified by MaxDifference.");
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var masked = ModelRunner.Create(original, new RunOptions { ZeroedChannels = DeletedChannels });
        using var pruned = ModelRunner.Create(Model);
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        var inputs = original.Inputs.Select(i =>
        {
            var shape = Shapes.ShapeInference.InputShape(original[i.Layer].ConfigNode)
                ?? throw new SurgeonException($"Input '{i.Layer}' has no declared shape; verification needs one.");
            // Undefined lengths (a sequence or an image of any size) are tried at 24.
            var dims = shape.Select((d, k) => k == 0 ? batch : d ?? 24).Select(d => (long)d).ToArray();
            return (TorchSharp.torch.rand(dims, generator: generator) * 2 - 1).to(original.Device);
        }).ToArray();
        var a = masked.Predict(inputs);
        var b = pruned.Predict(inputs);
        for (var i = 0; i < a.Count; i++)
        {
            if (!a[i].shape.SequenceEqual(b[i].shape))
                throw new SurgeonException($"The deletion reaches model output '{original.Outputs[i].Layer}' and changes its shape ([{string.Join(", ", a[i].shape)}] to [{string.Join(", ", b[i].shape)}]); the outputs cannot be compared.");
        }
        return a.Zip(b, (x, y) => (x - y).abs().max().item<float>()).Max();
    }

    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}
