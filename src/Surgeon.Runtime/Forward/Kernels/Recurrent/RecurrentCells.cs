using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// One Keras RNN cell split for speed: the input half of every gate is computed for all time steps at once
/// (<see cref="Project"/>), and <see cref="Step"/> adds the recurrent half for one step. States are kept in an
/// internal layout (channels first for ConvLSTM) and converted to Keras's at the edges.
/// </summary>
internal abstract class RecurrentCell
{
    protected RecurrentCell(int kerasMajorVersion) => KerasMajorVersion = kerasMajorVersion;

    /// <summary>Selects the Keras 2 or Keras 3 definition of hard_sigmoid.</summary>
    protected int KerasMajorVersion { get; }

    /// <summary>Number of states: 1 (h) or 2 (h, c). The first state is the step's output.</summary>
    public abstract int StateCount { get; }

    /// <summary>The input projections of every step: (N, T, ...) in Keras layout to (N, T, ...) internal.</summary>
    public abstract Tensor Project(Tensor x);

    /// <summary>Zero states for a batch, shaped from the projected input.</summary>
    public abstract Tensor[] ZeroStates(Tensor projected);

    /// <summary>One step: the projected input of the step (N, ...) and the previous states give the new states.</summary>
    public abstract Tensor[] Step(Tensor projectedStep, Tensor[] states);

    /// <summary>A state or step output (N, ...) from the internal layout to Keras's.</summary>
    public virtual Tensor ToKeras(Tensor state) => state;

    /// <summary>A state given in Keras's layout (an <c>initial_state</c> input) to the internal layout.</summary>
    public virtual Tensor FromKeras(Tensor state) => state;

    /// <summary>An output sequence (N, T, ...) from the internal layout to Keras's.</summary>
    public virtual Tensor SequenceToKeras(Tensor sequence) => sequence;

    protected Tensor Act(string? name, Tensor x) => Activations.Apply(name, x, KerasMajorVersion);

    /// <summary>The LSTM gate update from the four pre-activation blocks (i, f, c, o): the new [h, c].</summary>
    protected Tensor[] LstmUpdate(Tensor[] z, Tensor previousC, string? activation, string? recurrentActivation)
    {
        var i = Act(recurrentActivation, z[0]);
        var f = Act(recurrentActivation, z[1]);
        var c = f * previousC + i * Act(activation, z[2]);
        var o = Act(recurrentActivation, z[3]);
        return new[] { o * Act(activation, c), c };
    }
}

/// <summary>SimpleRNN: h = activation(x·W + b + h₋₁·U).</summary>
internal sealed class SimpleRnnCell : RecurrentCell
{
    private readonly Tensor _kernel;
    private readonly Tensor _recurrent;
    private readonly Tensor? _bias;
    private readonly string? _activation;

    public SimpleRnnCell(Tensor kernel, Tensor recurrent, Tensor? bias, string? activation, int kerasMajorVersion) : base(kerasMajorVersion)
    {
        _kernel = kernel;
        _recurrent = recurrent;
        _bias = bias;
        _activation = activation;
    }

    public override int StateCount => 1;

    public override Tensor Project(Tensor x)
    {
        var p = x.matmul(_kernel);
        return _bias is null ? p : p + _bias;
    }

    public override Tensor[] ZeroStates(Tensor projected) =>
        new[] { zeros(new[] { projected.shape[0], _recurrent.shape[0] }, projected.dtype, projected.device) };

    public override Tensor[] Step(Tensor projectedStep, Tensor[] states) =>
        new[] { Act(_activation, projectedStep + states[0].matmul(_recurrent)) };
}

/// <summary>
/// GRU, gates z, r, h. reset_after=false (Keras 1, Keras 2 before TF 2): ĥ = act(x_h + (r ⊙ h₋₁)·U_h);
/// reset_after=true: ĥ = act(x_h + r ⊙ (h₋₁·U_h + b_rh)), with the input bias in row 0 and the recurrent bias in row 1.
/// h = z ⊙ h₋₁ + (1 − z) ⊙ ĥ.
/// </summary>
internal sealed class GruCell : RecurrentCell
{
    private readonly Tensor _kernel;
    private readonly Tensor? _inputBias;
    private readonly Tensor _recurrent;       // reset_after: all of U; otherwise U_z and U_r
    private readonly Tensor? _recurrentH;     // reset_before: U_h
    private readonly Tensor? _recurrentBias;  // reset_after only
    private readonly bool _resetAfter;
    private readonly long _units;
    private readonly string? _activation;
    private readonly string? _recurrentActivation;

    public GruCell(Tensor kernel, Tensor recurrent, Tensor? inputBias, Tensor? recurrentBias, bool resetAfter,
        string? activation, string? recurrentActivation, int kerasMajorVersion, Func<Tensor, Tensor> own) : base(kerasMajorVersion)
    {
        _units = recurrent.shape[0];
        _kernel = kernel;
        _inputBias = inputBias;
        _resetAfter = resetAfter;
        _activation = activation;
        _recurrentActivation = recurrentActivation;
        if (resetAfter)
        {
            _recurrent = recurrent;
            _recurrentBias = recurrentBias;
        }
        else
        {
            _recurrent = own(recurrent.narrow(1, 0, 2 * _units).contiguous());
            _recurrentH = own(recurrent.narrow(1, 2 * _units, _units).contiguous());
        }
    }

    public override int StateCount => 1;

    public override Tensor Project(Tensor x)
    {
        var p = x.matmul(_kernel);
        return _inputBias is null ? p : p + _inputBias;
    }

    public override Tensor[] ZeroStates(Tensor projected) =>
        new[] { zeros(new[] { projected.shape[0], _units }, projected.dtype, projected.device) };

    public override Tensor[] Step(Tensor projectedStep, Tensor[] states)
    {
        var h = states[0];
        var x = projectedStep.chunk(3, -1);
        var inner = h.matmul(_recurrent);
        if (_recurrentBias is not null) inner += _recurrentBias;
        var rec = inner.chunk(_resetAfter ? 3 : 2, -1);
        var z = Act(_recurrentActivation, x[0] + rec[0]);
        var r = Act(_recurrentActivation, x[1] + rec[1]);
        var recurrentH = _resetAfter ? r * rec[2] : (r * h).matmul(_recurrentH!);
        var hh = Act(_activation, x[2] + recurrentH);
        return new[] { z * h + (1 - z) * hh };
    }
}

/// <summary>
/// LSTM, gates i, f, c, o: c = f ⊙ c₋₁ + i ⊙ act(z_c); h = o ⊙ act(c), with z = x·W + h₋₁·U + b.
/// </summary>
internal sealed class LstmCell : RecurrentCell
{
    private readonly Tensor _kernel;
    private readonly Tensor _recurrent;
    private readonly Tensor? _bias;
    private readonly string? _activation;
    private readonly string? _recurrentActivation;

    public LstmCell(Tensor kernel, Tensor recurrent, Tensor? bias, string? activation, string? recurrentActivation, int kerasMajorVersion)
        : base(kerasMajorVersion)
    {
        _kernel = kernel;
        _recurrent = recurrent;
        _bias = bias;
        _activation = activation;
        _recurrentActivation = recurrentActivation;
    }

    public override int StateCount => 2;

    public override Tensor Project(Tensor x)
    {
        var p = x.matmul(_kernel);
        return _bias is null ? p : p + _bias;
    }

    public override Tensor[] ZeroStates(Tensor projected)
    {
        var shape = new[] { projected.shape[0], _recurrent.shape[0] };
        return new[] { zeros(shape, projected.dtype, projected.device), zeros(shape, projected.dtype, projected.device) };
    }

    public override Tensor[] Step(Tensor projectedStep, Tensor[] states)
    {
        var z = (projectedStep + states[0].matmul(_recurrent)).chunk(4, -1);
        return LstmUpdate(z, states[1], _activation, _recurrentActivation);
    }
}

/// <summary>
/// ConvLSTM1D/2D/3D: the LSTM gates with convolutions. The input convolution uses the layer's padding, strides and
/// dilation; the recurrent one is stride 1, undilated, 'same' (TensorFlow's SAME: the odd pixel after).
/// Internally channels first: projections (N, T, 4F, ...), states (N, F, ...).
/// </summary>
internal sealed class ConvLstmCell : RecurrentCell
{
    private readonly int _rank;
    private readonly bool _channelsFirst;
    private readonly Tensor _kernel;      // (4F, in, k...)
    private readonly Tensor _recurrent;   // (4F, F, k...)
    private readonly Tensor? _bias;
    private readonly int[] _kernelSize;
    private readonly int[] _recurrentKernelSize;
    private readonly long[] _strides;
    private readonly long[] _dilation;
    private readonly string _padding;
    private readonly string? _activation;
    private readonly string? _recurrentActivation;

    public ConvLstmCell(int rank, bool channelsFirst, Tensor kernel, Tensor recurrent, Tensor? bias, int[] kernelSize, long[] strides,
        long[] dilation, string padding, string? activation, string? recurrentActivation, int kerasMajorVersion) : base(kerasMajorVersion)
    {
        _rank = rank;
        _channelsFirst = channelsFirst;
        _kernel = kernel;
        _recurrent = recurrent;
        _bias = bias;
        _kernelSize = kernelSize;
        _recurrentKernelSize = recurrent.shape.Skip(2).Select(k => (int)k).ToArray();
        _strides = strides;
        _dilation = dilation;
        _padding = padding;
        _activation = activation;
        _recurrentActivation = recurrentActivation;
    }

    public override int StateCount => 2;

    private long Filters => _recurrent.shape[1];

    public override Tensor Project(Tensor x)
    {
        var (n, t) = (x.shape[0], x.shape[1]);
        var frames = x.reshape(new[] { n * t }.Concat(x.shape.Skip(2)).ToArray());
        if (!_channelsFirst) frames = CoreKernels.ToChannelsFirst(frames);
        var amounts = Enumerable.Range(0, _rank)
            .Select(i => ConvPadding.For(_padding, frames.shape[i + 2], _kernelSize[i], (int)_strides[i], (int)_dilation[i])).ToArray();
        var y = Conv(ConvPadding.Pad(frames, amounts), _kernel, _bias, _strides, _dilation);
        return y.reshape(new[] { n, t }.Concat(y.shape.Skip(1)).ToArray());
    }

    public override Tensor[] ZeroStates(Tensor projected)
    {
        var shape = new[] { projected.shape[0], Filters }.Concat(projected.shape.Skip(3)).ToArray();
        return new[] { zeros(shape, projected.dtype, projected.device), zeros(shape, projected.dtype, projected.device) };
    }

    public override Tensor[] Step(Tensor projectedStep, Tensor[] states)
    {
        var h = states[0];
        var amounts = Enumerable.Range(0, _rank).Select(i => ConvPadding.For("same", h.shape[i + 2], _recurrentKernelSize[i], 1, 1)).ToArray();
        var ones = Enumerable.Repeat(1L, _rank).ToArray();
        var z = (projectedStep + Conv(ConvPadding.Pad(h, amounts), _recurrent, null, ones, ones)).chunk(4, 1);
        return LstmUpdate(z, states[1], _activation, _recurrentActivation);
    }

    public override Tensor ToKeras(Tensor state) => _channelsFirst ? state : CoreKernels.ToChannelsLast(state);

    public override Tensor FromKeras(Tensor state) => _channelsFirst ? state : CoreKernels.ToChannelsFirst(state);

    public override Tensor SequenceToKeras(Tensor sequence) =>
        _channelsFirst ? sequence : sequence.permute(new long[] { 0, 1 }.Concat(Enumerable.Range(3, _rank).Select(i => (long)i)).Append(2).ToArray());

    private Tensor Conv(Tensor x, Tensor w, Tensor? b, long[] strides, long[] dilation)
    {
        var zero = new long[_rank];
        return _rank switch
        {
            1 => nn.functional.conv1d(x, w, b, strides[0], 0, dilation[0]),
            2 => nn.functional.conv2d(x, w, b, strides, zero, dilation),
            _ => nn.functional.conv3d(x, w, b, strides, zero, dilation),
        };
    }
}
