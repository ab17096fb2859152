using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// SimpleRNN, GRU, LSTM and ConvLSTM1D/2D/3D with Keras's <c>RNN</c> semantics: go_backwards, return_sequences,
/// return_state, initial states passed as extra inputs, and masking (a masked step keeps the previous states; its
/// output is zeros with zero_output_for_mask, else the previous step's output). Keras 1 layouts (per-gate
/// W_i/U_i/b_i arrays, output_dim, inner_activation) are read too. Dropout is ignored (inference semantics).
/// </summary>
internal sealed class RecurrentKernel : LayerKernel
{
    private readonly RnnSettings _settings;
    private readonly RecurrentCell _cell;

    public RecurrentKernel(KerasLayer layer, ForwardContext context) : base(layer)
    {
        _settings = RnnSettings.Read(layer);
        var activation = RnnSettings.Activation(layer, new[] { "activation" }, "tanh");
        var major = context.KerasMajorVersion;
        switch (layer.ClassName)
        {
            case "SimpleRNN":
                {
                    var (kernel, recurrent, bias) = DenseWeights(Array.Empty<string>());
                    _cell = new SimpleRnnCell(kernel, recurrent, bias, activation, major);
                    break;
                }
            case "GRU":
                {
                    var (kernel, recurrent, bias) = DenseWeights(new[] { "z", "r", "h" });
                    // Keras 1 and Keras 2 before TF 2 have no reset_after (it is false); a (2, 3u) bias means true.
                    var resetAfter = bias is not null ? bias.dim() == 2 : Bool(layer.ConfigNode, "reset_after", major >= 3);
                    if (bias is not null && resetAfter != Bool(layer.ConfigNode, "reset_after", resetAfter))
                        throw new SurgeonException($"Layer '{layer.Name}' (GRU) has reset_after={!resetAfter} but a bias of shape [{string.Join(", ", bias.shape)}].");
                    var inputBias = bias is null ? null : resetAfter ? Own(bias[0].contiguous()) : bias;
                    var recurrentBias = bias is null || !resetAfter ? null : Own(bias[1].contiguous());
                    _cell = new GruCell(kernel, recurrent, inputBias, recurrentBias, resetAfter, activation,
                        RnnSettings.RecurrentActivation(layer, context), major, Own);
                    break;
                }
            case "LSTM":
                {
                    var (kernel, recurrent, bias) = DenseWeights(new[] { "i", "f", "c", "o" });
                    _cell = new LstmCell(kernel, recurrent, bias, activation, RnnSettings.RecurrentActivation(layer, context), major);
                    break;
                }
            case "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D":
                _cell = ConvCell(layer, activation, RnnSettings.RecurrentActivation(layer, context), major);
                break;
            default:
                throw new SurgeonException($"Layer '{layer.Name}': {layer.ClassName} is not a recurrent layer class Surgeon runs.");
        }
    }

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context)
    {
        var x = inputs[0];
        if (!x.is_floating_point()) x = x.to_type(ScalarType.Float32);
        var mask = inputs.Mask;
        if (_settings.TimeMajor)
        {
            x = x.transpose(0, 1);
            mask = mask?.transpose(0, 1);
        }
        if (_settings.GoBackwards)
        {
            x = x.flip(1);
            mask = mask?.flip(1);
        }
        var projected = _cell.Project(x);
        Tensor[] initial;
        if (inputs.Count > 1)
        {
            if (inputs.Count - 1 != _cell.StateCount)
                throw new SurgeonException($"Layer '{Layer.Name}' ({Layer.ClassName}) was called with {inputs.Count - 1} initial state tensor(s); it has {_cell.StateCount} state(s).");
            initial = inputs.Tensors.Skip(1).Select(s => _cell.FromKeras(s.is_floating_point() ? s : s.to_type(ScalarType.Float32))).ToArray();
        }
        else
        {
            initial = _cell.ZeroStates(projected);
        }
        var (outputs, states) = RecurrentLoop.Run(Layer, _cell, projected, initial, mask, _settings.ZeroOutputForMask, _settings.ReturnSequences);
        Tensor output;
        if (_settings.ReturnSequences)
        {
            output = _cell.SequenceToKeras(stack(outputs, 1));
            if (_settings.TimeMajor) output = output.transpose(0, 1);
        }
        else
        {
            output = _cell.ToKeras(outputs[^1]);
        }
        var result = new List<Tensor> { output };
        if (_settings.ReturnState) result.AddRange(states.Select(_cell.ToKeras));
        return new KernelOutputs(result, _settings.ReturnSequences ? inputs.Mask : null);
    }

    /// <summary>
    /// kernel (in, g·u), recurrent_kernel (u, g·u) and bias (g·u; GRU reset_after (2, 3u)) as float32 copies. Keras 1
    /// files with the default consume_less='cpu' store one W_x, U_x, b_x per gate x instead; they are concatenated in
    /// Keras 2 gate order.
    /// </summary>
    private (Tensor Kernel, Tensor Recurrent, Tensor? Bias) DenseWeights(string[] gates)
    {
        if (Layer.FindWeight("kernel") is not null || gates.Length == 0)
        {
            var kernel = Copy(Require("kernel"));
            var recurrent = Copy(Require("recurrent_kernel"));
            var bias = Layer.FindWeight("bias") is { } b ? Copy(b.Value) : null;
            Check(kernel, recurrent, gates.Length == 0 ? 1 : gates.Length);
            return (kernel, recurrent, bias);
        }
        if (Layer.FindWeight("W_" + gates[0]) is null)
            throw new SurgeonException($"Layer '{Layer.Name}' ({Layer.ClassName}) has neither a 'kernel' weight nor the Keras 1 per-gate weights (W_{gates[0]}, ...); it has: {string.Join(", ", Layer.Weights.Select(w => w.Name))}.");
        var k = Own(cat(gates.Select(g => Require("W_" + g).detach().to_type(ScalarType.Float32)).ToArray(), 1).contiguous());
        var u = Own(cat(gates.Select(g => Require("U_" + g).detach().to_type(ScalarType.Float32)).ToArray(), 1).contiguous());
        Tensor? bk1 = null;
        if (gates.All(g => Layer.FindWeight("b_" + g) is not null))
            bk1 = Own(cat(gates.Select(g => Require("b_" + g).detach().to_type(ScalarType.Float32)).ToArray(), 0).contiguous());
        Check(k, u, gates.Length);
        return (k, u, bk1);
    }

    private void Check(Tensor kernel, Tensor recurrent, int gates)
    {
        if (kernel.dim() != 2 || recurrent.dim() != 2 || recurrent.shape[1] != gates * recurrent.shape[0] || kernel.shape[1] != recurrent.shape[1])
            throw new SurgeonException($"Layer '{Layer.Name}' ({Layer.ClassName}) has kernel [{string.Join(", ", kernel.shape)}] and recurrent kernel [{string.Join(", ", recurrent.shape)}], which do not fit {gates} gate(s).");
    }

    private RecurrentCell ConvCell(KerasLayer layer, string? activation, string? recurrentActivation, int major)
    {
        var c = layer.ConfigNode;
        var rank = CoreKernels.SpatialRank(layer.ClassName);
        var kernelSize = Ints(c, rank, "kernel_size")
            ?? throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has no kernel_size.");
        var strides = (Ints(c, rank, "strides") ?? Enumerable.Repeat(1, rank).ToArray()).Select(s => (long)s).ToArray();
        var dilation = (Ints(c, rank, "dilation_rate") ?? Enumerable.Repeat(1, rank).ToArray()).Select(s => (long)s).ToArray();
        var padding = (String(c, "padding") ?? "valid").ToLowerInvariant();
        if (padding is not ("valid" or "same"))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has padding '{padding}'; ConvLSTM layers take 'valid' or 'same'.");
        // (k..., in, 4F) -> (4F, in, k...), as torch's convolutions want.
        var perm = new long[] { rank + 1, rank }.Concat(Enumerable.Range(0, rank).Select(i => (long)i)).ToArray();
        var kernel = Require("kernel");
        var recurrent = Require("recurrent_kernel");
        if (kernel.dim() != rank + 2 || recurrent.dim() != rank + 2 || recurrent.shape[^1] != 4 * recurrent.shape[^2] || kernel.shape[^1] != recurrent.shape[^1])
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has kernel [{string.Join(", ", kernel.shape)}] and recurrent kernel [{string.Join(", ", recurrent.shape)}], which do not fit a rank-{rank} ConvLSTM.");
        var bias = layer.FindWeight("bias") is { } b ? Copy(b.Value) : null;
        return new ConvLstmCell(rank, ChannelsFirst(c), Copy(kernel.permute(perm)), Copy(recurrent.permute(perm)), bias, kernelSize, strides, dilation,
            padding, activation, recurrentActivation, major);
    }

    private Tensor Require(string name) =>
        Layer.FindWeight(name)?.Value ?? throw new SurgeonException($"Layer '{Layer.Name}' ({Layer.ClassName}) has no weight '{name}'; it has: {string.Join(", ", Layer.Weights.Select(w => w.Name))}.");

    /// <summary>A float32, contiguous copy owned by this kernel.</summary>
    private Tensor Copy(Tensor t) => Own(t.detach().to_type(ScalarType.Float32).contiguous().clone());
}

/// <summary>Keras's RNN time loop (TensorFlow backend <c>rnn</c>) over projected inputs already in processing order.</summary>
internal static class RecurrentLoop
{
    /// <summary>
    /// Runs the cell over every step. Returns the step outputs in processing order (only the last one unless
    /// <paramref name="keepAll"/>) and the final states. With a mask (N, T), a masked step keeps the states; its
    /// output is zeros with <paramref name="zeroOutputForMask"/>, else the previous step's output (zeros at first).
    /// </summary>
    public static (List<Tensor> Outputs, Tensor[] States) Run(KerasLayer layer, RecurrentCell cell, Tensor projected, Tensor[] states,
        Tensor? mask, bool zeroOutputForMask, bool keepAll)
    {
        var n = projected.shape[0];
        var steps = projected.shape[1];
        if (steps == 0) throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) was given a sequence of 0 time steps.");
        if (mask is not null)
        {
            while (mask.dim() > 2 && mask.shape[^1] == 1) mask = mask.squeeze(-1);
            if (mask.dim() != 2 || mask.shape[0] != n || mask.shape[1] != steps)
                throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) got a mask of shape [{string.Join(", ", mask.shape)}] for {n} sequence(s) of {steps} step(s).");
            if (mask.dtype != ScalarType.Bool) mask = mask.ne(0);
        }
        var outputs = new List<Tensor>();
        Tensor? previous = null;
        // Tensors this loop made that are still needed; the others are released step by step (never the inputs).
        var alive = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var kept = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (var t = 0L; t < steps; t++)
        {
            Tensor output;
            Tensor[] next;
            using (var scope = NewDisposeScope())
            {
                next = cell.Step(projected.select(1, t), states);
                output = next[0];
                if (mask is not null)
                {
                    var m = mask.select(1, t).reshape(new[] { n }.Concat(Enumerable.Repeat(1L, (int)output.dim() - 1)).ToArray());
                    output = where(m, output, zeroOutputForMask || previous is null ? zeros_like(output) : previous);
                    next = next.Select((s, i) => where(m, s, states[i])).ToArray();
                }
                // Keep the results beyond this step's scope (each object once: the output may be a state too).
                var keep = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { output };
                foreach (var s in next) keep.Add(s);
                foreach (var k in keep) k.MoveToOuterDisposeScope();
            }
            if (keepAll || t == steps - 1)
            {
                outputs.Add(output);
                kept.Add(output);
            }
            var current = new HashSet<Tensor>(next, ReferenceEqualityComparer.Instance) { output };
            foreach (var old in states.Append(previous).Distinct(ReferenceEqualityComparer.Instance))
            {
                if (old is Tensor o && alive.Contains(o) && !current.Contains(o) && !kept.Contains(o))
                {
                    alive.Remove(o);
                    o.Dispose();
                }
            }
            alive.UnionWith(current);
            states = next;
            previous = output;
        }
        return (outputs, states);
    }
}
