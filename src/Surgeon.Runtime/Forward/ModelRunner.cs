using Surgeon.Forward;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>Options for <see cref="ModelRunner.Create"/>.</summary>
public sealed record RunOptions
{
    /// <summary>Run layers as in training (dropout and noise active). Default false: inference.</summary>
    public bool Training { get; init; }

    /// <summary>
    /// Channels forced to zero in the outputs of the given layers (on their channel axis): the masked model a channel
    /// deletion must reproduce.
    /// </summary>
    internal IReadOnlyDictionary<string, int[]>? ZeroedChannels { get; init; }
}

/// <summary>
/// A Keras model made executable on TorchSharp, on the device its weights live on. Weights are converted once, when
/// the runner is created, to the layouts TorchSharp's kernels want; the model itself is not changed. Inputs and
/// outputs are float32 tensors in Keras's layout (channels_last images are (N, H, W, C)).
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly KerasModel _model;
    private readonly Dictionary<string, LayerKernel> _kernels;
    private readonly IReadOnlyList<(KerasLayer Layer, int Node)> _schedule;
    private readonly ForwardContext _context;
    private readonly Dictionary<TensorRef, int> _consumers = new();
    private readonly HashSet<TensorRef> _outputRefs;
    private readonly int?[]?[] _inputShapes;

    private IReadOnlyDictionary<string, int[]>? _zeroed;

    /// <summary>
    /// Per-sample channel gates (N, C) multiplied into the first output of the given layers during a pass: their
    /// gradient is the first-order Taylor importance sum of activation x gradient (set around one pass only).
    /// </summary>
    internal IReadOnlyDictionary<string, Tensor>? Gates { get; set; }

    private ModelRunner(KerasModel model, Dictionary<string, LayerKernel> kernels, IReadOnlyList<(KerasLayer, int)> schedule, ForwardContext context)
    {
        _model = model;
        _kernels = kernels;
        _schedule = schedule;
        _context = context;
        foreach (var (layer, node) in schedule)
        {
            if (layer.ClassName == "InputLayer") continue;
            foreach (var r in layer.InboundNodes[node].Inputs) _consumers[r] = _consumers.GetValueOrDefault(r) + 1;
        }
        _outputRefs = new HashSet<TensorRef>(model.Outputs);
        _inputShapes = model.Inputs.Select(i => Shapes.ShapeInference.InputShape(model[i.Layer].ConfigNode)).ToArray();
    }

    /// <summary>The model this runner executes.</summary>
    public KerasModel Model => _model;

    /// <summary>
    /// Makes <paramref name="model"/> executable. Every layer is checked first: a layer that cannot run (Lambda, a
    /// custom layer, an unsupported class or option) stops creation with an error naming it, before any work.
    /// </summary>
    /// <exception cref="SurgeonException">A layer cannot run; the message names the layer and its class.</exception>
    public static ModelRunner Create(KerasModel model, RunOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsOpaque)
            throw new SurgeonException($"Model '{model.Name}' is a subclassed {model.ClassName} whose layers are not in its config; it cannot be run.");
        var schedule = Schedule(model);
        foreach (var (layer, _) in schedule)
        {
            if (KernelFactory.CannotRun(layer) is { } reason)
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) cannot run: {reason}");
        }
        var kernels = new Dictionary<string, LayerKernel>(StringComparer.Ordinal);
        var context = new ForwardContext(options?.Training ?? false, model.Source.KerasMajorVersion is 0 ? 2 : model.Source.KerasMajorVersion,
            string.Equals(model.Source.Backend, "theano", StringComparison.OrdinalIgnoreCase));
        try
        {
            using var _ = no_grad();
            foreach (var (layer, _) in schedule)
            {
                if (layer.ClassName != "InputLayer" && !kernels.ContainsKey(layer.Name)) kernels[layer.Name] = KernelFactory.Create(layer, context);
            }
        }
        catch
        {
            foreach (var k in kernels.Values) k.Dispose();
            throw;
        }
        return new ModelRunner(model, kernels, schedule, context) { _zeroed = options?.ZeroedChannels };
    }

    /// <summary>Runs a single-input, single-output model under <c>no_grad</c>; the caller owns the result.</summary>
    public Tensor Predict(Tensor input)
    {
        var outputs = Predict(new[] { input });
        if (outputs.Count != 1)
        {
            foreach (var o in outputs) o.Dispose();
            throw new SurgeonException($"Model '{_model.Name}' has {outputs.Count} outputs; call Predict with a list.");
        }
        return outputs[0];
    }

    /// <summary>Runs the model on one tensor per model input under <c>no_grad</c>; returns one tensor per model output.</summary>
    public IReadOnlyList<Tensor> Predict(IReadOnlyList<Tensor> inputs)
    {
        using var _ = no_grad();
        using var result = Run(inputs, null);
        return result.TakeOutputs();
    }

    /// <summary>
    /// Runs the model once and also returns the outputs of <paramref name="layers"/> (every call of each), from the same
    /// pass. With <paramref name="requiresGrad"/> the pass records gradients (for fine-tuning and Taylor criteria).
    /// </summary>
    public ForwardResult Forward(IReadOnlyList<Tensor> inputs, IEnumerable<string>? layers = null, bool requiresGrad = false)
    {
        var capture = layers?.ToHashSet(StringComparer.Ordinal);
        foreach (var name in capture ?? Enumerable.Empty<string>())
        {
            if (_model.FindLayer(name) is null)
                throw new KeyNotFoundException(_model.NoLayerMessage(name));
        }
        if (requiresGrad) return Run(inputs, capture);
        using var _ = no_grad();
        return Run(inputs, capture);
    }

    /// <summary>Runs a nested model's graph inside the caller's dispose scope (used by the nested-model kernel).</summary>
    internal IReadOnlyList<Tensor> RunNested(IReadOnlyList<Tensor> inputs) => Run(inputs, null).TakeOutputs();

    private ForwardResult Run(IReadOnlyList<Tensor> inputs, HashSet<string>? capture)
    {
        if (inputs.Count != _model.Inputs.Count)
            throw new ArgumentException($"Model '{_model.Name}' takes {_model.Inputs.Count} input(s), got {inputs.Count}.", nameof(inputs));
        using var scope = NewDisposeScope();
        var values = new Dictionary<TensorRef, Tensor>();
        var masks = new Dictionary<TensorRef, Tensor?>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var layer = _model[_model.Inputs[i].Layer];
            values[_model.Inputs[i]] = CheckInput(layer, inputs[i], i, _inputShapes[i]);
            masks[_model.Inputs[i]] = null;
        }
        var captured = new Dictionary<string, List<Tensor>>(StringComparer.Ordinal);
        // Each intermediate tensor is disposed after its last consumer, so a pass holds only live activations.
        var remaining = new Dictionary<TensorRef, int>(_consumers);
        foreach (var (layer, node) in _schedule)
        {
            if (layer.ClassName == "InputLayer")
            {
                if (capture?.Contains(layer.Name) == true) captured.GetOrAdd(layer.Name).Add(values[new TensorRef(layer.Name, node)].alias());
                continue;
            }
            var refs = layer.InboundNodes[node].Inputs;
            var tensors = new Tensor[refs.Count];
            var inputMasks = new Tensor?[refs.Count];
            for (var i = 0; i < refs.Count; i++)
            {
                tensors[i] = values[refs[i]];
                inputMasks[i] = masks.GetValueOrDefault(refs[i]);
            }
            var kernelInputs = new KernelInputs(tensors, inputMasks);
            KernelOutputs outputs;
            try
            {
                outputs = _kernels[layer.Name].Forward(kernelInputs, _context);
            }
            catch (Exception e) when (e is not SurgeonException and not OutOfMemoryException)
            {
                var shapes = string.Join(", ", tensors.Select(t => "[" + string.Join(", ", t.shape) + "]"));
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) failed on inputs of shape {shapes}: {e.Message}", e);
            }
            // Every output gets its own tensor object (never an input, and an RNN's output may also be its state), so
            // that each can be disposed after its own last use.
            var kept = new Tensor[outputs.Tensors.Count];
            for (var t = 0; t < kept.Length; t++)
            {
                var o = outputs.Tensors[t];
                kept[t] = Array.IndexOf(tensors, o) >= 0 || Array.IndexOf(kept, o, 0, t) >= 0 ? o.alias() : o;
                if (t == 0 && Gates is not null && Gates.TryGetValue(layer.Name, out var gate))
                {
                    var (axis, _) = ChannelDeletion.ChannelPositions(layer, (int)kept[t].dim(), t, Array.Empty<int>());
                    var view = Enumerable.Repeat(1L, (int)kept[t].dim()).ToArray();
                    view[0] = gate.shape[0];
                    view[axis] = gate.shape[1];
                    kept[t] = kept[t] * gate.view(view);
                }
                if (_zeroed is not null && _zeroed.TryGetValue(layer.Name, out var zero))
                {
                    var (axis, positions) = ChannelDeletion.ChannelPositions(layer, (int)kept[t].dim(), t, zero);
                    using var index = tensor(positions, device: kept[t].device);
                    kept[t] = kept[t].index_fill(axis, index, 0);
                }
            }
            outputs = new KernelOutputs(kept, outputs.Mask);
            for (var t = 0; t < outputs.Tensors.Count; t++)
            {
                values[new TensorRef(layer.Name, node, t)] = outputs.Tensors[t];
                masks[new TensorRef(layer.Name, node, t)] = outputs.Mask;
            }
            if (capture?.Contains(layer.Name) == true) captured.GetOrAdd(layer.Name).AddRange(outputs.Tensors.Select(x => x.alias()));
            foreach (var r in refs)
            {
                if (--remaining[r] == 0 && !_outputRefs.Contains(r) && values.Remove(r, out var done)) done.Dispose();
            }
        }
        var results = _model.Outputs.Select(o => values[o].alias().MoveToOuterDisposeScope()).ToArray();
        var layerOutputs = captured.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<Tensor>)kv.Value.Select(x => x.MoveToOuterDisposeScope()).ToArray(), StringComparer.Ordinal);
        return new ForwardResult(results, layerOutputs);
    }

    private Tensor CheckInput(KerasLayer layer, Tensor input, int index, int?[]? declared)
    {
        if (declared is not null)
        {
            var shape = input.shape;
            var ok = shape.Length == declared.Length && declared.Select((d, i) => d is null || i == 0 || d == shape[i]).All(x => x);
            if (!ok)
                throw new ArgumentException($"Input #{index} ('{layer.Name}') has shape [{string.Join(", ", shape)}] but the model expects {ModelSummary.Format(declared)}.", nameof(input));
        }
        var device = _model.Device;
        var x = input.device == device ? input : input.to(device);
        return x.dtype is ScalarType.Float32 or ScalarType.Int32 or ScalarType.Int64 ? x.alias() : x.to_type(ScalarType.Float32);
    }

    /// <summary>Every call of every layer needed for the outputs, in an order where inputs come first.</summary>
    private static IReadOnlyList<(KerasLayer, int)> Schedule(KerasModel model)
    {
        var order = new List<(KerasLayer, int)>();
        var done = new HashSet<(string, int)>();
        var active = new HashSet<(string, int)>();
        void Visit(TensorRef t)
        {
            var key = (t.Layer, t.NodeIndex);
            if (done.Contains(key)) return;
            if (!active.Add(key)) throw new SurgeonException($"Model '{model.Name}' has a cycle through layer '{t.Layer}'.");
            var layer = model[t.Layer];
            if (layer.ClassName != "InputLayer")
            {
                if (t.NodeIndex >= layer.InboundNodes.Count)
                    throw new SurgeonException($"Layer '{t.Layer}' has no call #{t.NodeIndex} (it has {layer.InboundNodes.Count}).");
                foreach (var i in layer.InboundNodes[t.NodeIndex].Inputs) Visit(i);
            }
            active.Remove(key);
            done.Add(key);
            order.Add((layer, t.NodeIndex));
        }
        foreach (var o in model.Outputs) Visit(o);
        return order;
    }

    /// <summary>Disposes the converted weights (the model is not affected).</summary>
    public void Dispose()
    {
        foreach (var k in _kernels.Values) k.Dispose();
        _kernels.Clear();
    }
}

/// <summary>The result of <see cref="ModelRunner.Forward"/>: model outputs and captured layer outputs, owned by the caller.</summary>
public sealed class ForwardResult : IDisposable
{
    private readonly Tensor[] _outputs;
    private bool _outputsTaken;

    internal ForwardResult(Tensor[] outputs, IReadOnlyDictionary<string, IReadOnlyList<Tensor>> layerOutputs)
    {
        _outputs = outputs;
        LayerOutputs = layerOutputs;
    }

    /// <summary>One tensor per model output.</summary>
    public IReadOnlyList<Tensor> Outputs => _outputs;

    /// <summary>Outputs of the captured layers: every output of every call, in call order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<Tensor>> LayerOutputs { get; }

    internal IReadOnlyList<Tensor> TakeOutputs()
    {
        _outputsTaken = true;
        return _outputs;
    }

    /// <summary>Disposes every tensor of the result.</summary>
    public void Dispose()
    {
        if (!_outputsTaken) foreach (var t in _outputs) t.Dispose();
        foreach (var list in LayerOutputs.Values) foreach (var t in list) t.Dispose();
    }
}

internal static class DictionaryExtensions
{
    public static List<TValue> GetOrAdd<TKey, TValue>(this Dictionary<TKey, List<TValue>> d, TKey key) where TKey : notnull
    {
        if (!d.TryGetValue(key, out var list)) d[key] = list = new List<TValue>();
        return list;
    }
}
