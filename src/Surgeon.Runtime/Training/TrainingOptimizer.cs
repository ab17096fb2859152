using static TorchSharp.torch;

namespace Surgeon;

/// <summary>
/// An optimizer with Keras's update rules and defaults (TensorFlow Keras 2 and Keras 3 agree on both):
/// <list type="bullet">
/// <item><description>SGD: <c>v = momentum * v - lr * g; w += v</c>; Nesterov: <c>w += momentum * v - lr * g</c>; without momentum <c>w -= lr * g</c>.</description></item>
/// <item><description>Adam: <c>m += (g - m)(1 - beta1); v += (g^2 - v)(1 - beta2); w -= lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon)</c>
/// (epsilon outside the bias correction, unlike PyTorch's Adam).</description></item>
/// </list>
/// </summary>
public sealed class TrainingOptimizer
{
    private TrainingOptimizer(OptimizerKind kind, double learningRate, double momentum, bool nesterov, double beta1, double beta2, double epsilon)
    {
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be positive and finite.");
        if (momentum is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must not be negative.");
        Kind = kind;
        LearningRate = learningRate;
        Momentum = momentum;
        Nesterov = nesterov;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>Which update rule.</summary>
    public OptimizerKind Kind { get; }

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>SGD momentum (0: plain gradient descent).</summary>
    public double Momentum { get; }

    /// <summary>SGD with Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>Adam's first-moment decay.</summary>
    public double Beta1 { get; }

    /// <summary>Adam's second-moment decay.</summary>
    public double Beta2 { get; }

    /// <summary>Adam's epsilon (Keras's "epsilon hat", added to sqrt(v)).</summary>
    public double Epsilon { get; }

    /// <summary>Keras's <c>SGD</c> (defaults: learning rate 0.01, no momentum).</summary>
    public static TrainingOptimizer Sgd(double learningRate = 0.01, double momentum = 0, bool nesterov = false) =>
        new(OptimizerKind.Sgd, learningRate, momentum, nesterov, 0.9, 0.999, 1e-7);

    /// <summary>Keras's <c>Adam</c> (defaults: learning rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7).</summary>
    public static TrainingOptimizer Adam(double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-7) =>
        new(OptimizerKind.Adam, learningRate, 0, false, beta1, beta2, epsilon);

    /// <summary>The same optimizer with another learning rate.</summary>
    public TrainingOptimizer WithLearningRate(double learningRate) => new(Kind, learningRate, Momentum, Nesterov, Beta1, Beta2, Epsilon);

    /// <inheritdoc />
    public override string ToString() => Kind == OptimizerKind.Adam
        ? $"Adam(lr={LearningRate}, beta1={Beta1}, beta2={Beta2}, epsilon={Epsilon})"
        : $"SGD(lr={LearningRate}, momentum={Momentum}{(Nesterov ? ", nesterov" : "")})";

    /// <summary>The optimizer's slots for a list of parameters (created lazily, on each parameter's device).</summary>
    internal sealed class State(TrainingOptimizer settings) : IDisposable
    {
        private readonly Dictionary<Tensor, (Tensor? M, Tensor? V)> _slots = new(ReferenceEqualityComparer.Instance);

        /// <summary>Number of updates applied (Keras's <c>iterations</c>).</summary>
        public long Iterations { get; private set; }

        private TrainingOptimizer _settings = settings;

        /// <summary>The update rule; another kind starts afresh (slots and step count), as a new Keras optimizer would.</summary>
        public TrainingOptimizer Settings
        {
            get => _settings;
            set
            {
                if (value.Kind != _settings.Kind)
                {
                    Clear();
                    Iterations = 0;
                }
                _settings = value;
            }
        }

        /// <summary>Applies one update to every parameter from its gradient (under no_grad, in place).</summary>
        public void Step(IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> gradients)
        {
            using var _ = no_grad();
            Iterations++;
            var s = Settings;
            var lr = s.LearningRate;
            double adamRate = 0;
            if (s.Kind == OptimizerKind.Adam)
                adamRate = lr * Math.Sqrt(1 - Math.Pow(s.Beta2, Iterations)) / (1 - Math.Pow(s.Beta1, Iterations));
            for (var i = 0; i < parameters.Count; i++)
            {
                var w = parameters[i];
                var g = gradients[i];
                using var scope = NewDisposeScope();
                if (s.Kind == OptimizerKind.Sgd)
                {
                    if (s.Momentum == 0)
                    {
                        w.add_(g, -lr);
                        continue;
                    }
                    var v = Slot(w, first: true);
                    v.mul_(s.Momentum).add_(g, -lr);
                    if (s.Nesterov) w.add_(v, s.Momentum).add_(g, -lr);
                    else w.add_(v);
                    continue;
                }
                var m = Slot(w, first: true);
                var sq = Slot(w, first: false);
                m.mul_(s.Beta1).add_(g, 1 - s.Beta1);
                sq.mul_(s.Beta2).addcmul_(g, g, 1 - s.Beta2);
                w.addcdiv_(m, sq.sqrt().add_(s.Epsilon), -adamRate);
            }
        }

        private Tensor Slot(Tensor w, bool first)
        {
            _slots.TryGetValue(w, out var slots);
            var slot = first ? slots.M : slots.V;
            if (slot is null)
            {
                slot = zeros_like(w);
                slot.DetachFromDisposeScope();
                _slots[w] = first ? (slot, slots.V) : (slots.M, slot);
            }
            return slot;
        }

        private void Clear()
        {
            foreach (var (m, v) in _slots.Values)
            {
                m?.Dispose();
                v?.Dispose();
            }
            _slots.Clear();
        }

        public void Dispose() => Clear();
    }
}

/// <summary>The update rules <see cref="TrainingOptimizer"/> implements.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent, optionally with (Nesterov) momentum.</summary>
    Sgd,
    /// <summary>Adam.</summary>
    Adam,
}
