using System.Diagnostics;
using Surgeon.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// Trains a loaded Keras model on TorchSharp, on the device its weights live on, with Keras's semantics: the loss,
/// optimizer rules and defaults, BatchNormalization's batch statistics and moving averages, dropout, weight
/// regularizers and constraints, and layers with <c>trainable: false</c> left frozen. The model is never changed:
/// the trainer works on copies of its weights (leaf tensors in Keras layout; layout conversions are recorded in the
/// autograd graph at every step), and <see cref="ToModel"/> returns a new model with the trained weights, which
/// <see cref="KerasFile.Save"/> writes as <c>.h5</c> or <c>.keras</c>.
/// </summary>
/// <example>
/// <code>
/// using var model = KerasFile.Load("lenet.h5");
/// using var train = FashionMnist.Load(FashionMnistSplit.Train, count: 10_000);
/// using var test = FashionMnist.Load(FashionMnistSplit.Test);
/// using var trainer = ModelTrainer.Create(model, new TrainerOptions { Optimizer = TrainingOptimizer.Adam(1e-3) });
/// trainer.Fit(train.Images, train.Labels, new FitOptions { Epochs = 2, BatchSize = 64, ValidationX = test.Images, ValidationY = test.Labels },
///     new Progress&lt;EpochReport&gt;(Console.WriteLine));
/// using var trained = trainer.ToModel();
/// KerasFile.Save(trained, "lenet-trained.h5");
/// </code>
/// </example>
public sealed class ModelTrainer : IDisposable
{
    private readonly KerasModel _model;
    private readonly ParameterSet _parameters;
    private readonly TrainableGraph _graph;
    private readonly TrainableParameter[] _trainable;
    private readonly TrainableParameter[] _regularized;
    private readonly TrainableParameter[] _constrained;
    private readonly TrainingOptimizer.State _optimizer;
    private readonly Device _device;
    private readonly ScalarType _floatType;
    private readonly int _kerasMajorVersion;
    private readonly bool _theano;
    private readonly bool _unbiasedMovingVariance;
    private readonly Generator _random;
    private bool _disposed;

    private ModelTrainer(KerasModel model, TrainerOptions options, ParameterSet parameters, TrainableGraph graph)
    {
        _model = model;
        Options = options;
        _parameters = parameters;
        _graph = graph;
        _trainable = parameters.All.Where(p => p.Trainable).ToArray();
        _regularized = _trainable.Where(p => p.Regularizer is not null).ToArray();
        _constrained = _trainable.Where(p => p.Constraint is not null).ToArray();
        _optimizer = new TrainingOptimizer.State(options.Optimizer);
        _device = model.Device;
        _floatType = parameters.All.Select(p => p.Value.dtype).FirstOrDefault(t => t is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16, ScalarType.Float32);
        _kerasMajorVersion = model.Source.KerasMajorVersion is 0 ? 2 : model.Source.KerasMajorVersion;
        _theano = string.Equals(model.Source.Backend, "theano", StringComparison.OrdinalIgnoreCase);
        _unbiasedMovingVariance = options.MovingVariance switch
        {
            MovingVarianceUpdate.Unbiased => true,
            MovingVarianceUpdate.Biased => false,
            _ => IsStandaloneKeras2(model.Source),
        };
        _random = new Generator(0, _device);
    }

    /// <summary>
    /// Makes <paramref name="model"/> trainable. Every layer needed for the output is checked first: one the trainer
    /// cannot run (a recurrent or attention layer, Lambda, a custom layer, an unsupported option) stops creation with
    /// an error naming it. The model is only read; dispose the trainer and the model independently.
    /// </summary>
    /// <exception cref="SurgeonException">A layer cannot be trained; the message names the layer and its class.</exception>
    public static ModelTrainer Create(KerasModel model, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new TrainerOptions();
        if (model.Inputs.Count != 1 || model.Outputs.Count != 1)
            throw new SurgeonException($"Model '{model.Name}' has {model.Inputs.Count} inputs and {model.Outputs.Count} outputs; the trainer takes models with one input and one output.");
        var parameters = new ParameterSet();
        try
        {
            using var _ = no_grad();
            parameters.AddModel(model, parentTrainable: true);
            var graph = TrainableGraph.Build(model, parameters, trainable: true);
            return new ModelTrainer(model, options, parameters, graph);
        }
        catch
        {
            parameters.Dispose();
            throw;
        }
    }

    /// <summary>The layer classes the trainer can run.</summary>
    public static IReadOnlyCollection<string> SupportedLayerClasses => TrainableGraph.SupportedClasses;

    /// <summary>The options the trainer was created with.</summary>
    public TrainerOptions Options { get; }

    /// <summary>
    /// The optimizer. Setting one of the same kind (e.g. <c>trainer.Optimizer.WithLearningRate(1e-4)</c>) keeps the
    /// accumulated moments and <see cref="Iterations"/>, as changing a Keras optimizer's learning rate does; another
    /// kind starts afresh, as a new Keras optimizer would.
    /// </summary>
    public TrainingOptimizer Optimizer
    {
        get => _optimizer.Settings;
        set => _optimizer.Settings = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Optimizer steps taken so far (Keras's <c>optimizer.iterations</c>).</summary>
    public long Iterations => _optimizer.Iterations;

    /// <summary>Number of scalar weights the optimizer updates (frozen layers and moving statistics excluded).</summary>
    public long TrainableParameterCount => _trainable.Sum(p => p.Value.numel());

    /// <summary>Whether BatchNormalization layers average the unbiased batch variance into their moving variance.</summary>
    public bool UnbiasedMovingVariance => _unbiasedMovingVariance;

    /// <summary>
    /// Trains for <see cref="FitOptions.Epochs"/> epochs over (<paramref name="x"/>, <paramref name="y"/>): x in Keras
    /// layout (N, ...), y class indices (N) for the sparse cross-entropy, or targets shaped like the output. Each epoch
    /// is reported to <paramref name="progress"/> with its loss, accuracy, validation figures and time. Cancellation is
    /// checked before every batch (the weights then hold the last completed step).
    /// </summary>
    /// <returns>One report per epoch.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IReadOnlyList<EpochReport> Fit(Tensor x, Tensor y, FitOptions? options = null, IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        options ??= new FitOptions();
        if (options.Epochs < 0) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must not be negative.");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "The batch size must be at least 1.");
        if ((options.ValidationX is null) != (options.ValidationY is null))
            throw new ArgumentException("Give both ValidationX and ValidationY, or neither.", nameof(options));
        var n = CheckData(x, y);
        if (options.ValidationX is not null) CheckData(options.ValidationX, options.ValidationY!);
        var seed = options.Seed ?? Random.Shared.NextInt64();
        _random.manual_seed(seed);
        using var shuffler = new Generator((ulong)seed, torch.CPU);
        var reports = new List<EpochReport>();
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            using var epochScope = NewDisposeScope();
            var order = options.Shuffle ? randperm(n, generator: shuffler) : null;
            Tensor? orderOnData = order is not null && order.device != x.device ? order.to(x.device) : order;
            var lossSum = zeros(Array.Empty<long>(), dtype: ScalarType.Float32, device: _device);
            var correctSum = zeros(Array.Empty<long>(), dtype: ScalarType.Float32, device: _device);
            var steps = 0;
            for (long start = 0; start < n; start += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var stepScope = NewDisposeScope();
                var count = Math.Min(options.BatchSize, n - start);
                Tensor xb, yb;
                if (orderOnData is not null)
                {
                    var index = orderOnData.narrow(0, start, count);
                    xb = x.index_select(0, index);
                    yb = y.index_select(0, index.device == y.device ? index : index.to(y.device));
                }
                else
                {
                    xb = x.narrow(0, start, count);
                    yb = y.narrow(0, start, count);
                }
                var (loss, correct) = Step(Input(xb), Target(yb));
                using (no_grad())
                {
                    lossSum.add_(loss.to_type(ScalarType.Float32) * count);
                    if (correct is not null) correctSum.add_(correct.to_type(ScalarType.Float32));
                }
                steps++;
            }
            var meanLoss = n == 0 ? double.NaN : lossSum.item<float>() / (double)n;
            double? accuracy = Options.Loss.HasAccuracy && n > 0 ? correctSum.item<float>() / (double)n : null;
            Evaluation? validation = options.ValidationX is not null ? Evaluate(options.ValidationX, options.ValidationY!, options.ValidationBatchSize) : null;
            var report = new EpochReport(epoch, options.Epochs, steps, meanLoss, accuracy, validation?.Loss, validation?.Accuracy, clock.Elapsed.TotalSeconds);
            reports.Add(report);
            progress?.Report(report);
        }
        return reports;
    }

    /// <summary>One optimizer step on one batch (training mode); returns the batch's loss and accuracy.</summary>
    public (double Loss, double? Accuracy) TrainOnBatch(Tensor x, Tensor y)
    {
        ThrowIfDisposed();
        var n = CheckData(x, y);
        using var scope = NewDisposeScope();
        var (loss, correct) = Step(Input(x), Target(y));
        return (Scalar(loss), correct is null || n == 0 ? null : Scalar(correct) / n);
    }

    /// <summary>
    /// Loss and accuracy on (<paramref name="x"/>, <paramref name="y"/>) in inference mode (moving statistics, no
    /// dropout), in batches of <paramref name="batchSize"/>.
    /// </summary>
    public Evaluation Evaluate(Tensor x, Tensor y, int batchSize = 256)
    {
        ThrowIfDisposed();
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var n = CheckData(x, y);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var context = Context(training: false);
        var lossSum = zeros(Array.Empty<long>(), dtype: ScalarType.Float32, device: _device);
        var correctSum = zeros(Array.Empty<long>(), dtype: ScalarType.Float32, device: _device);
        for (long start = 0; start < n; start += batchSize)
        {
            using var batchScope = NewDisposeScope();
            var count = Math.Min(batchSize, n - start);
            var yb = Target(y.narrow(0, start, count));
            var pass = _graph.Forward(new[] { Input(x.narrow(0, start, count)) }, context, Options.Loss.WantsLogits);
            lossSum.add_(Options.Loss.PerSample(pass.Outputs[0], pass.Logits[0], yb).sum().to_type(ScalarType.Float32));
            if (Options.Loss.HasAccuracy) correctSum.add_(Options.Loss.Correct(pass.Outputs[0], yb).sum().to_type(ScalarType.Float32));
        }
        var loss = n == 0 ? double.NaN : lossSum.item<float>() / (double)n;
        if (_regularized.Length > 0) loss += Scalar(Penalty());
        return new Evaluation(loss, Options.Loss.HasAccuracy && n > 0 ? correctSum.item<float>() / (double)n : null, n);
    }

    /// <summary>The model's output for <paramref name="x"/> in inference mode, in batches; the caller owns the result.</summary>
    public Tensor Predict(Tensor x, int batchSize = 256)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(x);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var context = Context(training: false);
        var parts = new List<Tensor>();
        var n = x.shape[0];
        for (long start = 0; start < n || (n == 0 && start == 0); start += batchSize)
            parts.Add(_graph.Forward(new[] { Input(x.narrow(0, start, Math.Min(batchSize, n - start))) }, context).Outputs[0]);
        var result = parts.Count == 1 ? parts[0].alias() : cat(parts.ToArray(), 0);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A new model with the trained weights: same architecture and configs, weights in Keras layout (BatchNormalization
    /// moving statistics updated), on the model's device. Optimizer state from the original file is not carried (it
    /// no longer matches the weights). The caller owns (disposes) it.
    /// </summary>
    public KerasModel ToModel()
    {
        ThrowIfDisposed();
        using var _ = no_grad();
        var created = new List<Tensor>();
        try
        {
            return Export(_model, created);
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }

    private KerasModel Export(KerasModel model, List<Tensor> created)
    {
        var layers = model.Layers.Select(l => new KerasLayer(l.Entry, l.ClassName, l.Name, l.InboundNodes,
            l.Weights.Select(w =>
            {
                var value = _parameters[w].Value.clone(); // under no_grad: no history, no extra handle
                value.DetachFromDisposeScope();
                created.Add(value);
                return new KerasWeight(w.Name, value, w.Trainable, w.StoredName, w.ArchivePath);
            }).ToArray(),
            l.NestedModel is null ? null : Export(l.NestedModel, created), l.IsSynthesized)
        { ArchiveGroupNames = l.ArchiveGroupNames }).ToArray();
        return model.Derive(layers);
    }

    /// <summary>Forward in training mode, loss, gradients, update, constraints. Tensors belong to the caller's scope.</summary>
    private (Tensor Loss, Tensor? Correct) Step(Tensor x, Tensor y)
    {
        var pass = _graph.Forward(new[] { x }, Context(training: true), Options.Loss.WantsLogits);
        var output = pass.Outputs[0];
        var loss = Options.Loss.PerSample(output, pass.Logits[0], y).mean();
        if (_regularized.Length > 0) loss = loss + Penalty();
        if (_trainable.Length > 0)
        {
            var parameters = _trainable.Select(p => p.Value).ToArray();
            if (!loss.requires_grad)
                throw new SurgeonException($"Model '{_model.Name}': the loss does not depend on any trainable weight.");
            var gradients = torch.autograd.grad(new[] { loss }, parameters, allow_unused: true);
            var used = new List<Tensor>(parameters.Length);
            var grads = new List<Tensor>(parameters.Length);
            for (var i = 0; i < parameters.Length; i++)
            {
                if (gradients[i] is null || gradients[i].IsInvalid) continue;
                used.Add(parameters[i]);
                grads.Add(gradients[i]);
            }
            _optimizer.Step(used, grads);
            using (no_grad())
            {
                foreach (var p in _constrained) p.Constraint!.Apply(p.Value);
            }
        }
        Tensor? correct = null;
        if (Options.Loss.HasAccuracy)
        {
            using var _ = no_grad();
            correct = Options.Loss.Correct(output.detach(), y).sum();
        }
        return (loss.detach(), correct);
    }

    /// <summary>Every weight copy of the trainer, in model order (tests).</summary>
    internal IReadOnlyList<TrainableParameter> Parameters => _parameters.All;

    /// <summary>
    /// The loss the optimizer would minimise on (<paramref name="x"/>, <paramref name="y"/>), without updating anything:
    /// training mode uses batch statistics but leaves the moving ones unchanged (tests, gradient checks).
    /// </summary>
    internal Tensor Loss(Tensor x, Tensor y, bool training)
    {
        var context = Context(training) with { UpdateStatistics = false };
        var pass = _graph.Forward(new[] { Input(x) }, context, Options.Loss.WantsLogits);
        var loss = Options.Loss.PerSample(pass.Outputs[0], pass.Logits[0], Target(y)).mean();
        return _regularized.Length > 0 ? loss + Penalty() : loss;
    }

    /// <summary>Gradients of <see cref="Loss"/> (training mode) for every trainable parameter, without an update.</summary>
    internal IReadOnlyList<Tensor> Gradients(Tensor x, Tensor y) =>
        torch.autograd.grad(new[] { Loss(x, y, training: true) }, _trainable.Select(p => p.Value).ToArray()).ToArray();

    /// <summary>Sum of the weight regularization penalties.</summary>
    private Tensor Penalty()
    {
        Tensor? total = null;
        foreach (var p in _regularized)
        {
            var penalty = p.Regularizer!.Penalty(p.Value);
            total = total is null ? penalty : total + penalty;
        }
        return total!;
    }

    private StepContext Context(bool training) => new()
    {
        Training = training,
        Random = _random,
        KerasMajorVersion = _kerasMajorVersion,
        TheanoKernels = _theano,
        UnbiasedMovingVariance = _unbiasedMovingVariance,
    };

    /// <summary>A scalar's value (float64 tensors read as such; others through float32, which every device has).</summary>
    private static double Scalar(Tensor t) => t.dtype == ScalarType.Float64 ? t.item<double>() : t.to_type(ScalarType.Float32).item<float>();

    private static long CheckData(Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.dim() == 0 || y.dim() == 0) throw new ArgumentException("Inputs and targets need a batch axis.");
        if (x.shape[0] != y.shape[0])
            throw new ArgumentException($"Inputs have {x.shape[0]} samples but targets have {y.shape[0]}.", nameof(y));
        return x.shape[0];
    }

    /// <summary>An input batch on the model's device, in its floating type.</summary>
    private Tensor Input(Tensor x)
    {
        if (x.device != _device) x = x.to(_device);
        return x.dtype == _floatType ? x : x.to_type(_floatType);
    }

    /// <summary>A target batch on the model's device (class indices keep their integer type).</summary>
    private Tensor Target(Tensor y)
    {
        if (y.device != _device) y = y.to(_device);
        return y.is_floating_point() && y.dtype != _floatType ? y.to_type(_floatType) : y;
    }

    /// <summary>
    /// Standalone multi-backend Keras 2.1.3 to 2.3.x (not tf.keras, whose versions end in <c>-tf</c>, and not CNTK)
    /// updates BatchNormalization's moving variance with the unbiased batch variance.
    /// </summary>
    internal static bool IsStandaloneKeras2(ModelSource source)
    {
        var v = source.KerasVersion;
        if (v is null || v.Contains("tf", StringComparison.OrdinalIgnoreCase)) return false;
        if (string.Equals(source.Backend, "cntk", StringComparison.OrdinalIgnoreCase)) return false;
        var parts = v.Split('.', '-', '+');
        if (parts.Length < 2 || !int.TryParse(parts[0], out var major) || !int.TryParse(parts[1], out var minor)) return false;
        var patch = parts.Length > 2 && int.TryParse(parts[2], out var p) ? p : 0;
        return major == 2 && minor < 4 && (minor > 1 || (minor == 1 && patch >= 3));
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Disposes the trainer's weights and optimizer state (the source model and trained models are not affected).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _optimizer.Dispose();
        _parameters.Dispose();
        _random.Dispose();
    }
}
