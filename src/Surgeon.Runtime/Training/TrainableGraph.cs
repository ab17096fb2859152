using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>
/// A Keras model (Sequential or Functional, nested models included) as differentiable TorchSharp operations over
/// the leaf tensors of a <see cref="ParameterSet"/>. Every call of every layer needed for the outputs runs, in an
/// order where inputs come first; shared layers reuse one op.
/// </summary>
internal sealed class TrainableGraph
{
    private readonly KerasModel _model;
    private readonly Dictionary<string, TrainOp> _ops;
    private readonly IReadOnlyList<(KerasLayer Layer, int Node)> _schedule;

    private TrainableGraph(KerasModel model, Dictionary<string, TrainOp> ops, IReadOnlyList<(KerasLayer, int)> schedule)
    {
        _model = model;
        _ops = ops;
        _schedule = schedule;
    }

    /// <summary>The model this graph runs.</summary>
    public KerasModel Model => _model;

    /// <summary>The op that produces model output <paramref name="index"/>.</summary>
    public TrainOp? OutputOp(int index) => _ops.GetValueOrDefault(_model.Outputs[index].Layer);

    /// <summary>
    /// Builds the graph. Every layer needed for the outputs is checked first: one the trainer cannot run stops
    /// creation with an error naming the layer and its class.
    /// </summary>
    public static TrainableGraph Build(KerasModel model, ParameterSet parameters, bool trainable)
    {
        if (model.IsOpaque)
            throw new SurgeonException($"Model '{model.Name}' is a subclassed {model.ClassName} whose layers are not in its config; it cannot be trained.");
        trainable = trainable && model.Trainable;
        var schedule = Schedule(model);
        foreach (var (layer, _) in schedule)
        {
            if (layer.NestedModel is null && CannotTrain(layer) is { } reason)
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) cannot be trained: {reason}");
        }
        var ops = new Dictionary<string, TrainOp>(StringComparer.Ordinal);
        foreach (var (layer, _) in schedule)
        {
            if (layer.ClassName == "InputLayer" || ops.ContainsKey(layer.Name)) continue;
            var layerTrainable = trainable && layer.Trainable;
            ops[layer.Name] = layer.NestedModel is { } nested
                ? new NestedModelOp(layer, Build(nested, parameters, layerTrainable))
                : Create(layer, parameters, layerTrainable);
            if (layer.NestedModel is null && layerTrainable) Regularization.Attach(layer, parameters);
        }
        return new TrainableGraph(model, ops, schedule);
    }

    /// <summary>The layer classes the trainer runs.</summary>
    public static IReadOnlyCollection<string> SupportedClasses { get; } = new[]
    {
        "InputLayer", "Dense", "Activation", "Softmax", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "PReLU",
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
        "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
        "BatchNormalization", "LayerNormalization", "Rescaling",
        "Flatten", "Reshape", "Permute", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    };

    private static readonly HashSet<string> s_supported = new(SupportedClasses, StringComparer.Ordinal);

    /// <summary>Null when the trainer can run the layer; otherwise why not.</summary>
    public static string? CannotTrain(KerasLayer layer)
    {
        if (layer.NestedModel is not null) return null;
        return layer.ClassName switch
        {
            "Lambda" => "a Lambda layer holds Python code, which Surgeon cannot execute; replace it with built-in layers.",
            "TFOpLambda" or "TensorFlowOpLayer" or "SlicingOpLambda" => "it wraps a TensorFlow operation recorded from Python, which Surgeon cannot execute.",
            "UpSampling1D" or "UpSampling2D" or "UpSampling3D" when (ConfigValues.String(layer.ConfigNode, "interpolation") ?? "nearest") != "nearest" =>
                "only nearest-neighbour up-sampling can be trained.",
            _ when !s_supported.Contains(layer.ClassName) => LayerCatalog.IsKnown(layer.ClassName)
                ? "Surgeon's trainer has no training pass for this class yet (it can still run it with ModelRunner)."
                : "it is a custom or unknown layer class; its computation is not in the file.",
            _ => null,
        };
    }

    private static TrainOp Create(KerasLayer layer, ParameterSet p, bool trainable) => layer.ClassName switch
    {
        "Dense" => new DenseOp(layer, p),
        "Activation" => new ActivationOp(layer),
        "Softmax" => new SoftmaxOp(layer),
        "ReLU" or "LeakyReLU" or "ELU" or "ThresholdedReLU" => new PointwiseActivationOp(layer),
        "PReLU" => new PreluOp(layer, p),
        "Dropout" or "SpatialDropout1D" or "SpatialDropout2D" or "SpatialDropout3D" or "GaussianNoise" or "GaussianDropout" or "AlphaDropout" => new NoiseOp(layer),
        "BatchNormalization" => new BatchNormOp(layer, p, trainable),
        "LayerNormalization" => new LayerNormOp(layer, p),
        "Rescaling" => new RescalingOp(layer),
        "Flatten" => new FlattenOp(layer),
        "Reshape" => new ReshapeOp(layer),
        "Permute" => new PermuteOp(layer),
        "ZeroPadding1D" or "ZeroPadding2D" or "ZeroPadding3D" => new PaddingOp(layer, crop: false),
        "Cropping1D" or "Cropping2D" or "Cropping3D" => new PaddingOp(layer, crop: true),
        "UpSampling1D" or "UpSampling2D" or "UpSampling3D" => new UpSamplingOp(layer),
        "Add" or "Subtract" or "Multiply" or "Average" or "Maximum" or "Minimum" => new MergeOp(layer),
        "Concatenate" => new ConcatenateOp(layer),
        _ when layer.ClassName.Contains("Pool", StringComparison.Ordinal) => new KernelOp(layer),
        _ => new ConvOp(layer, p),
    };

    /// <summary>The outputs of one pass, and for outputs whose layer ends in a softmax, the logits before it.</summary>
    public readonly record struct Pass(IReadOnlyList<Tensor> Outputs, IReadOnlyList<Tensor?> Logits);

    /// <summary>
    /// Runs the graph on one tensor per model input (Keras layout). Intermediate tensors belong to the caller's
    /// dispose scope. With <paramref name="logits"/>, output layers that end in a softmax also return its input.
    /// </summary>
    public Pass Forward(IReadOnlyList<Tensor> inputs, StepContext context, bool logits = false)
    {
        if (inputs.Count != _model.Inputs.Count)
            throw new ArgumentException($"Model '{_model.Name}' takes {_model.Inputs.Count} input(s), got {inputs.Count}.", nameof(inputs));
        var values = new Dictionary<TensorRef, Tensor>();
        for (var i = 0; i < inputs.Count; i++) values[_model.Inputs[i]] = inputs[i];
        var logitRefs = logits ? new HashSet<TensorRef>(_model.Outputs) : null;
        var found = new Dictionary<TensorRef, Tensor>();
        foreach (var (layer, node) in _schedule)
        {
            var self = new TensorRef(layer.Name, node);
            if (layer.ClassName == "InputLayer" || values.ContainsKey(self)) continue;
            var refs = layer.InboundNodes[node].Inputs;
            var xs = new Tensor[refs.Count];
            for (var i = 0; i < refs.Count; i++) xs[i] = values[refs[i]];
            var op = _ops[layer.Name];
            try
            {
                if (logitRefs is not null && logitRefs.Contains(self) && op.EndsInSoftmax)
                {
                    var z = op.PreSoftmax(xs, context);
                    found[self] = z;
                    values[self] = softmax(z, -1);
                    continue;
                }
                var outputs = op.ForwardAll(xs, context);
                for (var t = 0; t < outputs.Count; t++) values[new TensorRef(layer.Name, node, t)] = outputs[t];
            }
            catch (Exception e) when (e is not SurgeonException and not OutOfMemoryException)
            {
                var shapes = string.Join(", ", xs.Select(t => "[" + string.Join(", ", t.shape) + "]"));
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) failed on inputs of shape {shapes}: {e.Message}", e);
            }
        }
        return new Pass(_model.Outputs.Select(o => values[o]).ToArray(), _model.Outputs.Select(o => found.GetValueOrDefault(o)).ToArray());
    }

    /// <summary>Every call of every layer needed for the outputs, in an order where inputs come first.</summary>
    private static IReadOnlyList<(KerasLayer, int)> Schedule(KerasModel model)
    {
        var order = new List<(KerasLayer, int)>();
        var done = new HashSet<(string, int)>();
        var active = new HashSet<(string, int)>();
        var inputs = new HashSet<TensorRef>(model.Inputs);
        var stack = new Stack<(TensorRef Ref, bool Expanded)>();
        foreach (var output in model.Outputs.Reverse()) stack.Push((output, false));
        while (stack.Count > 0)
        {
            var (t, expanded) = stack.Pop();
            var key = (t.Layer, t.NodeIndex);
            var layer = model[t.Layer];
            if (expanded)
            {
                active.Remove(key);
                if (done.Add(key)) order.Add((layer, t.NodeIndex));
                continue;
            }
            if (done.Contains(key)) continue;
            if (!active.Add(key)) throw new SurgeonException($"Model '{model.Name}' has a cycle through layer '{t.Layer}'.");
            stack.Push((t, true));
            if (layer.ClassName == "InputLayer" || inputs.Contains(new TensorRef(t.Layer, t.NodeIndex))) continue;
            if (t.NodeIndex >= layer.InboundNodes.Count)
                throw new SurgeonException($"Layer '{t.Layer}' has no call #{t.NodeIndex} (it has {layer.InboundNodes.Count}).");
            foreach (var i in layer.InboundNodes[t.NodeIndex].Inputs.Reverse()) stack.Push((i, false));
        }
        return order;
    }
}
