using System.Text.Json;
using System.Text.Json.Nodes;
using PureHDF;
using Surgeon.Forward;
using Surgeon.Forward.Kernels.Recurrent;
using Surgeon.Runtime.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>
/// Embedding, SimpleRNN, GRU, LSTM, ConvLSTM2D, Bidirectional and TimeDistributed against references written here
/// with plain double loops (no TorchSharp arithmetic), following Keras's definitions (keras/src/layers/rnn and the
/// TensorFlow backend's rnn loop for masking), and against the real fixtures with recorded outputs.
/// </summary>
public sealed class RecurrentKernelTests
{
    private const double Atol = 1e-5;
    private const string Uniform = """{"class_name": "RandomUniform", "config": {"minval": -0.6, "maxval": 0.6}}""";
    private static readonly string Inits = $"\"kernel_initializer\": {Uniform}, \"recurrent_initializer\": {Uniform}, \"bias_initializer\": {Uniform}";

    private readonly ITestOutputHelper _output;

    public RecurrentKernelTests(ITestOutputHelper output) => _output = output;

    // ---------------------------------------------------------------- SimpleRNN, GRU, LSTM

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void SimpleRnn_MatchesReference(bool goBackwards, bool returnSequences)
    {
        var layer = Layer("SimpleRNN", "rnn", $"\"units\": 4, \"activation\": \"tanh\", \"return_sequences\": {B(returnSequences)}, \"return_state\": true, \"go_backwards\": {B(goBackwards)}, {Inits}");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { null, 5, 3 }, new[] { layer }, ("rnn", 0), ("rnn", 1)), seed: 1);
        using var x = Input(2, 5, 3);

        var outputs = Run(model, x);

        var step = SimpleStep(W(model, "rnn", "kernel"), W(model, "rnn", "recurrent_kernel"), W(model, "rnn", "bias"), 3, 4, Math.Tanh);
        var r = RefRun(D(x), 2, 5, 3, step, 1, 4, null, goBackwards, zeroOutput: false);
        AssertClose(returnSequences ? r.Sequence : r.Last, outputs[0], "output");
        AssertClose(r.States[0], outputs[1], "h");
    }

    [Fact]
    public void SimpleRnn_TimeMajor_TakesAndReturnsTimeFirst()
    {
        var layer = Layer("SimpleRNN", "rnn", $"\"units\": 3, \"time_major\": true, \"return_sequences\": true, {Inits}");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { null, 2, 4 }, new[] { layer }, ("rnn", 0)), seed: 14);
        using var x = Input(5, 2, 4); // (time, batch, features)

        var output = Run(model, x)[0];

        using var batchMajor = x.transpose(0, 1).contiguous();
        var r = RefRun(D(batchMajor), 2, 5, 4, SimpleStep(W(model, "rnn", "kernel"), W(model, "rnn", "recurrent_kernel"), W(model, "rnn", "bias"), 4, 3, Math.Tanh), 1, 3, null, false, false);
        using var timeMajorOutput = output.transpose(0, 1).contiguous();
        AssertClose(r.Sequence, timeMajorOutput, "time-major sequence");
    }

    [Theory]
    [InlineData(true, "sigmoid", "2.15.0")]
    [InlineData(false, "hard_sigmoid", "2.2.4")]
    [InlineData(false, "hard_sigmoid", "3.4.1")]
    [InlineData(true, "sigmoid", "3.4.1")]
    public void Gru_ResetAfterAndBefore_MatchesReference(bool resetAfter, string recurrentActivation, string kerasVersion)
    {
        var layer = Layer("GRU", "gru", $"\"units\": 3, \"activation\": \"tanh\", \"recurrent_activation\": \"{recurrentActivation}\", \"reset_after\": {B(resetAfter)}, \"return_sequences\": true, \"return_state\": true, {Inits}");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { null, 6, 4 }, new[] { layer }, new[] { ("gru", 0), ("gru", 1) }, kerasVersion), seed: 2);
        Assert.Equal(resetAfter ? 2 : 1, model["gru"].FindWeight("bias")!.Value.dim());
        using var x = Input(3, 6, 4);

        var outputs = Run(model, x);

        Func<double, double> ra = recurrentActivation == "sigmoid" ? Sigmoid : kerasVersion.StartsWith('3') ? HardSigmoid3 : HardSigmoid2;
        var step = GruStep(W(model, "gru", "kernel"), W(model, "gru", "recurrent_kernel"), W(model, "gru", "bias"), 4, 3, resetAfter, Math.Tanh, ra);
        var r = RefRun(D(x), 3, 6, 4, step, 1, 3, null, goBackwards: false, zeroOutput: false);
        AssertClose(r.Sequence, outputs[0], "sequence");
        AssertClose(r.States[0], outputs[1], "h");
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void Lstm_MatchesReference(bool goBackwards, bool returnSequences)
    {
        var layer = Layer("LSTM", "lstm", $"\"units\": 5, \"activation\": \"tanh\", \"recurrent_activation\": \"sigmoid\", \"return_sequences\": {B(returnSequences)}, \"return_state\": true, \"go_backwards\": {B(goBackwards)}, {Inits}");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { null, 7, 3 }, new[] { layer }, ("lstm", 0), ("lstm", 1), ("lstm", 2)), seed: 3);
        using var x = Input(2, 7, 3);

        var outputs = Run(model, x);

        Assert.Equal(3, outputs.Count);
        var step = LstmStep(W(model, "lstm", "kernel"), W(model, "lstm", "recurrent_kernel"), W(model, "lstm", "bias"), 3, 5, Math.Tanh, Sigmoid);
        var r = RefRun(D(x), 2, 7, 3, step, 2, 5, null, goBackwards, zeroOutput: false);
        AssertClose(returnSequences ? r.Sequence : r.Last, outputs[0], "output");
        AssertClose(r.States[0], outputs[1], "h");
        AssertClose(r.States[1], outputs[2], "c");
    }

    [Fact]
    public void Lstm_InitialStateInputs_StartFromThem()
    {
        var json = $$"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"name": "x", "class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": [null, 4, 3], "dtype": "float32"}, "inbound_nodes": []},
              {"name": "h0", "class_name": "InputLayer", "config": {"name": "h0", "batch_input_shape": [null, 2], "dtype": "float32"}, "inbound_nodes": []},
              {"name": "c0", "class_name": "InputLayer", "config": {"name": "c0", "batch_input_shape": [null, 2], "dtype": "float32"}, "inbound_nodes": []},
              {"name": "lstm", "class_name": "LSTM", "config": {"name": "lstm", "units": 2, "return_sequences": true, "recurrent_activation": "sigmoid", {{Inits}}},
               "inbound_nodes": [[["x", 0, 0, {}], ["h0", 0, 0, {}], ["c0", 0, 0, {}]]]}],
              "input_layers": [["x", 0, 0], ["h0", 0, 0], ["c0", 0, 0]], "output_layers": [["lstm", 0, 0]]},
             "keras_version": "2.15.0", "backend": "tensorflow"}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 4);
        using var x = Input(2, 4, 3);
        using var h0 = Input(2, 2);
        using var c0 = Input(2, 2);
        using var runner = ModelRunner.Create(model);

        var output = runner.Predict(new[] { x, h0, c0 })[0];

        var step = LstmStep(W(model, "lstm", "kernel"), W(model, "lstm", "recurrent_kernel"), W(model, "lstm", "bias"), 3, 2, Math.Tanh, Sigmoid);
        var r = RefRun(D(x), 2, 4, 3, step, 2, 2, null, false, false, initial: new[] { D(h0), D(c0) });
        AssertClose(r.Sequence, output, "sequence");
        output.Dispose();
    }

    [Fact]
    public void Keras1_PerGateWeights_GruAndBidirectionalNames_MatchReference()
    {
        // Keras 1 (consume_less='cpu') stores W_z, U_z, b_z, W_r, ... per gate; output_dim and inner_activation
        // (hard_sigmoid: clip(0.2x + 0.5, 0, 1) in Keras 1); a Bidirectional's weights are "forward_<inner>_W_z".
        var gru = Layer("GRU", "gru_1", "\"output_dim\": 3, \"activation\": \"tanh\", \"inner_activation\": \"hard_sigmoid\", \"return_sequences\": true, \"go_backwards\": false");
        var bi = """{"class_name": "Bidirectional", "config": {"name": "bi", "merge_mode": "sum", "layer": {"class_name": "GRU", "config": {"name": "gru_2", "output_dim": 3, "inner_activation": "hard_sigmoid", "return_sequences": false}}}}""";
        (string, long[])[] Gates(string prefix, int inDim) => new[] { "z", "r", "h" }.SelectMany(g => new[]
            { (prefix + "W_" + g, new long[] { inDim, 3 }), (prefix + "U_" + g, new long[] { 3, 3 }), (prefix + "b_" + g, new long[] { 3 }) }).ToArray();
        using var model = WithWeights(Chain(new int?[] { null, 4, 2 }, new[] { gru, bi }, new[] { ("bi", 0) }, "1.2.2"), seed: 13,
            ("gru_1", Gates("", 2)), ("bi", Gates("forward_gru_2_", 3).Concat(Gates("backward_gru_2_", 3)).ToArray()));
        using var x = Input(2, 4, 2);

        var output = Run(model, x)[0];

        double[] Cat(string prefix, string kind, int rows) // concatenate the gates' columns: (rows, 3 per gate) -> (rows, 9)
        {
            var parts = new[] { "z", "r", "h" }.Select(g => W(model, prefix.Split('|')[0], prefix.Split('|')[1] + kind + "_" + g)).ToArray();
            var cols = parts[0].Length / rows;
            return Enumerable.Range(0, rows).SelectMany(r => parts.SelectMany(p => p.Skip(r * cols).Take(cols))).ToArray();
        }
        var first = RefRun(D(x), 2, 4, 2, GruStep(Cat("gru_1|", "W", 2), Cat("gru_1|", "U", 3), Cat("gru_1|", "b", 1), 2, 3, false, Math.Tanh, HardSigmoid2), 1, 3, null, false, false);
        var fw = RefRun(first.Sequence, 2, 4, 3, GruStep(Cat("bi|forward_gru_2_", "W", 3), Cat("bi|forward_gru_2_", "U", 3), Cat("bi|forward_gru_2_", "b", 1), 3, 3, false, Math.Tanh, HardSigmoid2), 1, 3, null, false, false);
        var bw = RefRun(first.Sequence, 2, 4, 3, GruStep(Cat("bi|backward_gru_2_", "W", 3), Cat("bi|backward_gru_2_", "U", 3), Cat("bi|backward_gru_2_", "b", 1), 3, 3, false, Math.Tanh, HardSigmoid2), 1, 3, null, true, false);
        AssertClose(fw.Last.Zip(bw.Last, (a, b) => a + b).ToArray(), output, "keras 1 bidirectional sum");
    }

    // ---------------------------------------------------------------- masking

    [Theory]
    [InlineData("LSTM", true, false, false)]
    [InlineData("LSTM", false, false, false)]
    [InlineData("LSTM", true, true, false)]
    [InlineData("GRU", true, false, true)]
    [InlineData("SimpleRNN", true, true, true)]
    [InlineData("SimpleRNN", false, false, true)]
    public void Masking_MaskedStepsKeepStateAndRepeatOrZeroOutput(string cls, bool returnSequences, bool goBackwards, bool zeroOutputForMask)
    {
        // Embedding(mask_zero) makes the mask: zeros in the middle, at the start and at the end (not only right padding).
        var emb = Layer("Embedding", "emb", $"\"input_dim\": 7, \"output_dim\": 3, \"mask_zero\": true, \"embeddings_initializer\": {Uniform}");
        var extra = cls == "GRU" ? ", \"reset_after\": true" : "";
        var rnn = Layer(cls, "rnn", $"\"units\": 4, \"recurrent_activation\": \"sigmoid\", \"return_sequences\": {B(returnSequences)}, \"go_backwards\": {B(goBackwards)}, \"zero_output_for_mask\": {B(zeroOutputForMask)}, \"return_state\": true{extra}, {Inits}");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { null, 6 }, new[] { emb, rnn }, new[] { ("rnn", 0), ("rnn", 1) }, dtype: "int32"), seed: 5);
        var ids = new long[] { 3, 0, 5, 1, 0, 0, /**/ 0, 0, 2, 6, 4, 1, /**/ 0, 0, 0, 0, 0, 0 };
        using var x = tensor(ids).reshape(3, 6);

        var outputs = Run(model, x);

        var table = W(model, "emb", "embeddings");
        var xs = ids.SelectMany(i => Enumerable.Range(0, 3).Select(j => table[(int)i * 3 + j])).ToArray();
        var mask = ids.Select(i => i != 0).ToArray();
        var step = cls switch
        {
            "LSTM" => LstmStep(W(model, "rnn", "kernel"), W(model, "rnn", "recurrent_kernel"), W(model, "rnn", "bias"), 3, 4, Math.Tanh, Sigmoid),
            "GRU" => GruStep(W(model, "rnn", "kernel"), W(model, "rnn", "recurrent_kernel"), W(model, "rnn", "bias"), 3, 4, true, Math.Tanh, Sigmoid),
            _ => SimpleStep(W(model, "rnn", "kernel"), W(model, "rnn", "recurrent_kernel"), W(model, "rnn", "bias"), 3, 4, Math.Tanh),
        };
        var r = RefRun(xs, 3, 6, 3, step, cls == "LSTM" ? 2 : 1, 4, mask, goBackwards, zeroOutputForMask);
        AssertClose(returnSequences ? r.Sequence : r.Last, outputs[0], "output");
        AssertClose(r.States[0], outputs[1], "h");
        // Sanity of the reference itself: a masked step never changes the state, a fully masked sequence stays zero.
        Assert.All(r.States[0].Skip(8), v => Assert.Equal(0.0, v));
    }

    // ---------------------------------------------------------------- Embedding

    [Fact]
    public void Embedding_GathersRowsAndMakesMaskFromNonZeroIndices()
    {
        var emb = Layer("Embedding", "emb", $"\"input_dim\": 10, \"output_dim\": 4, \"mask_zero\": true, \"input_length\": 3, \"embeddings_initializer\": {Uniform}");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { null, 3 }, new[] { emb }, new[] { ("emb", 0) }), seed: 6);
        using var kernel = new EmbeddingKernel(model["emb"]);
        using var scope = NewDisposeScope();
        // Float indices are truncated as Keras casts them to int32.
        var x = tensor(new[] { 1f, 0f, 9.7f, 3f, 3f, 0f }).reshape(2, 3);

        var result = kernel.Forward(new KernelInputs(new[] { x }, new Tensor?[] { null }), new ForwardContext(false, 2));

        var table = W(model, "emb", "embeddings");
        var expected = new[] { 1, 0, 9, 3, 3, 0 }.SelectMany(i => table.Skip(i * 4).Take(4)).ToArray();
        AssertClose(expected, result.Tensors[0], "rows");
        Assert.Equal(new long[] { 2, 3, 4 }, result.Tensors[0].shape);
        Assert.Equal(new[] { true, false, true, true, true, false }, result.Mask!.data<bool>().ToArray());

        var bad = tensor(new long[] { 10 }).reshape(1, 1);
        var e = Assert.Throws<SurgeonException>(() => kernel.Forward(new KernelInputs(new[] { bad }, new Tensor?[] { null }), new ForwardContext(false, 2)));
        Assert.Contains("emb", e.Message);
    }

    // ---------------------------------------------------------------- Bidirectional

    [Theory]
    [InlineData("concat", true)]
    [InlineData("concat", false)]
    [InlineData("sum", true)]
    [InlineData("mul", false)]
    [InlineData("ave", true)]
    [InlineData(null, true)]
    public void Bidirectional_Lstm_MatchesReference(string? mergeMode, bool returnSequences)
    {
        var inner = $$"""{"class_name": "LSTM", "config": {"name": "lstm", "units": 3, "recurrent_activation": "sigmoid", "return_sequences": {{B(returnSequences)}}, "return_state": true, "go_backwards": false} }""";
        var bi = $$"""{"class_name": "Bidirectional", "config": {"name": "bi", "merge_mode": {{(mergeMode is null ? "null" : $"\"{mergeMode}\"")}}, "layer": {{inner}} } }""";
        var nOut = mergeMode is null ? 2 : 1;
        using var model = WithWeights(Chain(new int?[] { null, 5, 4 }, new[] { bi }, Enumerable.Range(0, nOut + 4).Select(i => ("bi", i)).ToArray()), seed: 7,
            ("bi", new[] { ("forward/kernel", new long[] { 4, 12 }), ("forward/recurrent_kernel", new long[] { 3, 12 }), ("forward/bias", new long[] { 12 }),
                ("backward/kernel", new long[] { 4, 12 }), ("backward/recurrent_kernel", new long[] { 3, 12 }), ("backward/bias", new long[] { 12 }) }));
        using var x = Input(2, 5, 4);

        var outputs = Run(model, x);

        var fw = RefRun(D(x), 2, 5, 4, LstmStep(W(model, "bi", "forward/kernel"), W(model, "bi", "forward/recurrent_kernel"), W(model, "bi", "forward/bias"), 4, 3, Math.Tanh, Sigmoid), 2, 3, null, false, returnSequences);
        var bw = RefRun(D(x), 2, 5, 4, LstmStep(W(model, "bi", "backward/kernel"), W(model, "bi", "backward/recurrent_kernel"), W(model, "bi", "backward/bias"), 4, 3, Math.Tanh, Sigmoid), 2, 3, null, true, returnSequences);
        var (y, yRev) = returnSequences ? (fw.Sequence, Reverse(bw.Sequence, 2, 5, 3)) : (fw.Last, bw.Last);
        var rows = returnSequences ? 10 : 2;
        switch (mergeMode)
        {
            case "concat":
                AssertClose(ConcatLast(y, yRev, rows, 3), outputs[0], "concat");
                break;
            case "sum":
                AssertClose(y.Zip(yRev, (a, b) => a + b).ToArray(), outputs[0], "sum");
                break;
            case "mul":
                AssertClose(y.Zip(yRev, (a, b) => a * b).ToArray(), outputs[0], "mul");
                break;
            case "ave":
                AssertClose(y.Zip(yRev, (a, b) => (a + b) / 2).ToArray(), outputs[0], "ave");
                break;
            default:
                AssertClose(y, outputs[0], "forward");
                AssertClose(yRev, outputs[1], "backward");
                break;
        }
        AssertClose(fw.States[0], outputs[nOut], "forward h");
        AssertClose(fw.States[1], outputs[nOut + 1], "forward c");
        AssertClose(bw.States[0], outputs[nOut + 2], "backward h");
        AssertClose(bw.States[1], outputs[nOut + 3], "backward c");
    }

    [Fact]
    public void Bidirectional_MaskedConcat_ZeroesMaskedStepsAndUsesBackwardLayerConfig()
    {
        // The saved backward_layer differs (relu activation, as Keras allows); masked steps give zeros in both halves.
        var emb = Layer("Embedding", "emb", $"\"input_dim\": 6, \"output_dim\": 3, \"mask_zero\": true");
        var bi = """
            {"class_name": "Bidirectional", "config": {"name": "bi", "merge_mode": "concat",
              "layer": {"class_name": "GRU", "config": {"name": "gru", "units": 2, "reset_after": false, "recurrent_activation": "sigmoid", "return_sequences": true}},
              "backward_layer": {"class_name": "GRU", "config": {"name": "gru_b", "units": 2, "reset_after": false, "activation": "relu", "recurrent_activation": "sigmoid", "return_sequences": true, "go_backwards": true}}}}
            """;
        using var model = WithWeights(Chain(new int?[] { null, 5 }, new[] { emb, bi }, new[] { ("bi", 0) }, dtype: "int32"), seed: 8,
            ("emb", new[] { ("embeddings", new long[] { 6, 3 }) }),
            ("bi", new[] { ("forward/kernel", new long[] { 3, 6 }), ("forward/recurrent_kernel", new long[] { 2, 6 }), ("forward/bias", new long[] { 6 }),
                ("backward/kernel", new long[] { 3, 6 }), ("backward/recurrent_kernel", new long[] { 2, 6 }), ("backward/bias", new long[] { 6 }) }));
        var ids = new long[] { 1, 2, 0, 3, 0, /**/ 5, 4, 3, 2, 1 };
        using var x = tensor(ids).reshape(2, 5);

        var output = Run(model, x)[0];

        var table = W(model, "emb", "embeddings");
        var xs = ids.SelectMany(i => table.Skip((int)i * 3).Take(3)).ToArray();
        var mask = ids.Select(i => i != 0).ToArray();
        var fw = RefRun(xs, 2, 5, 3, GruStep(W(model, "bi", "forward/kernel"), W(model, "bi", "forward/recurrent_kernel"), W(model, "bi", "forward/bias"), 3, 2, false, Math.Tanh, Sigmoid), 1, 2, mask, false, zeroOutput: true);
        var bw = RefRun(xs, 2, 5, 3, GruStep(W(model, "bi", "backward/kernel"), W(model, "bi", "backward/recurrent_kernel"), W(model, "bi", "backward/bias"), 3, 2, false, v => Math.Max(v, 0), Sigmoid), 1, 2, mask, true, zeroOutput: true);
        AssertClose(ConcatLast(fw.Sequence, Reverse(bw.Sequence, 2, 5, 2), 10, 2), output, "concat");
        var values = D(output);
        Assert.All(new[] { 2, 4 }, t => Assert.All(Enumerable.Range(0, 4), j => Assert.Equal(0.0, values[t * 4 + j])));
    }

    // ---------------------------------------------------------------- TimeDistributed

    [Fact]
    public void TimeDistributed_Dense_AppliesToEveryStep()
    {
        var td = """{"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "Dense", "config": {"name": "dense", "units": 3, "activation": "tanh"}}}}""";
        using var model = WithWeights(Chain(new int?[] { null, 4, 5 }, new[] { td }, new[] { ("td", 0) }), seed: 9,
            ("td", new[] { ("kernel", new long[] { 5, 3 }), ("bias", new long[] { 3 }) }));
        using var x = Input(2, 4, 5);

        var output = Run(model, x)[0];

        var (k, b, xs) = (W(model, "td", "kernel"), W(model, "td", "bias"), D(x));
        var expected = new double[2 * 4 * 3];
        for (var s = 0; s < 8; s++)
            for (var j = 0; j < 3; j++)
            {
                var acc = b[j];
                for (var i = 0; i < 5; i++) acc += xs[s * 5 + i] * k[i * 3 + j];
                expected[s * 3 + j] = Math.Tanh(acc);
            }
        AssertClose(expected, output, "time distributed dense");
    }

    [Fact]
    public void TimeDistributed_SimpleRnn_RunsEachOuterStepAsASequence()
    {
        var td = """{"class_name": "TimeDistributed", "config": {"name": "td", "layer": {"class_name": "SimpleRNN", "config": {"name": "rnn", "units": 2, "activation": "tanh"}}}}""";
        using var model = WithWeights(Chain(new int?[] { null, 3, 4, 2 }, new[] { td }, new[] { ("td", 0) }), seed: 10,
            ("td", new[] { ("kernel", new long[] { 2, 2 }), ("recurrent_kernel", new long[] { 2, 2 }), ("bias", new long[] { 2 }) }));
        using var x = Input(2, 3, 4, 2);

        var output = Run(model, x)[0];

        var r = RefRun(D(x), 6, 4, 2, SimpleStep(W(model, "td", "kernel"), W(model, "td", "recurrent_kernel"), W(model, "td", "bias"), 2, 2, Math.Tanh), 1, 2, null, false, false);
        Assert.Equal(new long[] { 2, 3, 2 }, output.shape);
        AssertClose(r.Last, output, "time distributed rnn");
    }

    // ---------------------------------------------------------------- ConvLSTM2D

    [Theory]
    [InlineData(false, "same", 1, 1, true)]
    [InlineData(false, "same", 2, 1, false)]
    [InlineData(true, "valid", 2, 1, true)]
    [InlineData(true, "same", 1, 2, false)]
    public void ConvLstm2D_MatchesReference(bool channelsFirst, string padding, int stride, int dilation, bool returnSequences)
    {
        const int n = 2, t = 3, h = 5, w = 6, cin = 2, f = 2, kh = 2, kw = 3;
        var layer = $$"""
            {"class_name": "ConvLSTM2D", "config": {"name": "conv", "filters": {{f}}, "kernel_size": [{{kh}}, {{kw}}], "strides": [{{stride}}, {{stride}}],
              "dilation_rate": [{{dilation}}, {{dilation}}], "padding": "{{padding}}", "data_format": "{{(channelsFirst ? "channels_first" : "channels_last")}}",
              "activation": "tanh", "recurrent_activation": "hard_sigmoid", "return_sequences": {{B(returnSequences)}}, "return_state": true, "go_backwards": true} }
            """;
        var inputShape = channelsFirst ? new int?[] { null, t, cin, h, w } : new int?[] { null, t, h, w, cin };
        using var model = WithWeights(Chain(inputShape, new[] { layer }, new[] { ("conv", 0), ("conv", 1), ("conv", 2) }), seed: 11,
            ("conv", new[] { ("kernel", new long[] { kh, kw, cin, 4 * f }), ("recurrent_kernel", new long[] { kh, kw, f, 4 * f }), ("bias", new long[] { 4 * f }) }));
        using var xKeras = channelsFirst ? Input(n, t, cin, h, w) : Input(n, t, h, w, cin);

        var outputs = Run(model, xKeras);

        // Reference on channels-last frames.
        using var xLast = channelsFirst ? xKeras.permute(0, 1, 3, 4, 2).contiguous() : xKeras.alias();
        var r = ConvLstmRef(D(xLast), n, t, h, w, cin, W(model, "conv", "kernel"), W(model, "conv", "recurrent_kernel"), W(model, "conv", "bias"),
            f, kh, kw, stride, dilation, padding == "same", goBackwards: true);
        Tensor ToKeras(Tensor y) => channelsFirst ? (y.dim() == 5 ? y.permute(0, 1, 3, 4, 2) : y.permute(0, 2, 3, 1)) : y;
        AssertClose(returnSequences ? r.Sequence : r.Last, ToKeras(outputs[0]), "output");
        AssertClose(r.H, ToKeras(outputs[1]), "h");
        AssertClose(r.C, ToKeras(outputs[2]), "c");
        Assert.Equal(returnSequences ? 5 : 4, outputs[0].dim());
    }

    // ---------------------------------------------------------------- errors

    [Fact]
    public void Stateful_IsRejectedNamingTheLayer()
    {
        var layer = Layer("LSTM", "my_stateful_lstm", "\"units\": 2, \"stateful\": true");
        using var model = KerasFile.CreateFromArchitecture(Chain(new int?[] { 4, 3, 2 }, new[] { layer }, new[] { ("my_stateful_lstm", 0) }), seed: 12);

        var e = Assert.Throws<SurgeonException>(() => ModelRunner.Create(model));

        Assert.Contains("my_stateful_lstm", e.Message);
        Assert.Contains("stateful", e.Message);
    }

    [SkippableFact]
    public void Stateful_FixtureGru_IsRejected()
    {
        var file = Path.Combine(SharedFixtures.RealRoot, "frugally-deep", "test", "stateful_test", "temp_stateful.h5");
        SharedFixtures.Require(SharedFixtures.RealRoot);
        using var model = KerasFile.Load(file);
        var e = Assert.Throws<SurgeonException>(() => ModelRunner.Create(model));
        Assert.Contains("stateful", e.Message);
    }

    // ---------------------------------------------------------------- real fixtures with recorded outputs

    public static TheoryData<string, string, string> Dl4jFixtures() => new()
    {
        { "simple_lstm/simple_lstm_tf_keras_1_model.h5", "simple_lstm/simple_lstm_tf_keras_1_inputs_and_outputs.h5", "lstm_1" },
        { "simple_rnn/simple_rnn_tf_keras_2_model.h5", "simple_rnn/simple_rnn_tf_keras_2_inputs_and_outputs.h5", "simple_rnn_1" },
        { "simple_flatten_rnn/simple_flatten_rnn_tf_keras_2_model.h5", "simple_flatten_rnn/simple_flatten_rnn_tf_keras_2_inputs_and_outputs.h5", "simple_rnn_1" },
    };

    [SkippableTheory]
    [MemberData(nameof(Dl4jFixtures))]
    public void Fixture_Dl4jKerasExample_MatchesRecordedPredictions(string modelFile, string dataFile, string rnnLayer)
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var root = Path.Combine(SharedFixtures.RealRoot, "dl4j-test-resources", "src", "main", "resources", "modelimport", "keras", "examples");
        using var model = KerasFile.Load(Path.Combine(root, modelFile));
        using var runner = ModelRunner.Create(model);
        using var h5 = H5File.OpenRead(Path.Combine(root, dataFile));
        using var input = Dataset(h5, "inputs");
        using var expected = Dataset(h5, "predictions");
        using var activation = Dataset(h5, "activations/" + rnnLayer);

        using var result = runner.Forward(new[] { input }, new[] { rnnLayer });

        AssertClose(expected, result.Outputs[0], modelFile + " predictions");
        AssertClose(activation, result.LayerOutputs[rnnLayer][0], modelFile + " " + rnnLayer);
    }

    public static TheoryData<string> TfjsFixtures() => new() { "gru", "simple_rnn", "bidirectional_lstm", "time_distributed_lstm" };

    [SkippableTheory]
    [MemberData(nameof(TfjsFixtures))]
    public void Fixture_TfjsLayersIntegration_MatchesRecordedOutputs(string name)
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var root = Path.Combine(SharedFixtures.RealRoot, "tfjs-layers", "integration_tests", "tfjs2keras", "test-data");
        using var model = KerasFile.Load(Path.Combine(root, name));
        using var runner = ModelRunner.Create(model);
        using var input = JsonTensor(Path.Combine(root, name + ".xs-data.json"), Path.Combine(root, name + ".xs-shapes.json"));
        using var expected = JsonTensor(Path.Combine(root, name + ".ys-data.json"), Path.Combine(root, name + ".ys-shapes.json"));

        using var output = runner.Predict(input);

        AssertClose(expected, output, name);
    }

    [SkippableTheory]
    [InlineData("seq_lstm_gru")]
    [InlineData("seq_bidi_simplernn")]
    public void Fixture_OracleSequenceModel_MatchesOutputAndEveryLayer(string name)
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        var dir = Path.Combine(SharedFixtures.OracleRoot, name);
        using var model = KerasFile.Load(dir);
        using var runner = ModelRunner.Create(model);
        using var input = NpyFile.Read(Path.Combine(dir, "input.npy"));
        using var expected = NpyFile.Read(Path.Combine(dir, "output.npy"));
        var layerFiles = Directory.GetFiles(Path.Combine(dir, "layer_outputs"), "*.npy").OrderBy(f => f, StringComparer.Ordinal).ToArray();
        var layers = layerFiles.Select(f => Path.GetFileNameWithoutExtension(f)[3..]).ToArray();

        using var result = runner.Forward(new[] { input }, layers);

        AssertClose(expected, result.Outputs[0], name + " output");
        for (var i = 0; i < layers.Length; i++)
        {
            using var recorded = NpyFile.Read(layerFiles[i]);
            AssertClose(recorded, result.LayerOutputs[layers[i]][0], $"{name} layer {layers[i]}");
        }
    }

    // ---------------------------------------------------------------- real fixtures without recorded outputs: they run

    public static TheoryData<string> UnrecordedFixtures() => new()
    {
        "dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/convlstm2d_0.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/convlstm2d_1.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/rnn_1.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/rnn_101.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/rnn_127.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/weights/bidirectional_lstm_tensorflow_2.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/weights/embedding_lstm_tensorflow_2.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/weights/lstm_tensorflow_1.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/examples/masking/masking_zero_lstm.h5",
        "dl4j-test-resources/src/main/resources/modelimport/keras/examples/reshape_to_rnn/reshape_model.h5",
        "dl4j-test-resources/src/main/resources/keras/simple/lstm_tf_model.h5",
        "frugally-deep/keras_export/lstm.h5",
        "keras/model.keras",
    };

    [SkippableTheory]
    [MemberData(nameof(UnrecordedFixtures))]
    public void Fixture_WithRecurrentLayers_RunsToFiniteOutputsOfTheInferredShape(string file)
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.RealRoot, file));
        if (model.Layers.FirstOrDefault(l => KernelFactory.CannotRun(l) is not null) is { } blocked)
            Skip.If(true, $"{file}: layer '{blocked.Name}' ({blocked.ClassName}) cannot run yet: {KernelFactory.CannotRun(blocked)}");
        using var runner = ModelRunner.Create(model);
        using var scope = NewDisposeScope();
        var gen = new Generator(42);
        var inputs = model.Inputs.Select(i =>
        {
            var layer = model[i.Layer];
            var shape = Surgeon.Shapes.ShapeInference.InputShape(layer.ConfigNode)!.Select((d, k) => k == 0 ? 2L : d ?? 4L).ToArray();
            var consumer = model.Layers.FirstOrDefault(l => l.InboundNodes.Any(nd => nd.Inputs.Any(r => r.Layer == i.Layer)));
            return consumer?.ClassName == "Embedding"
                ? randint(0, consumer.ConfigNode["input_dim"]!.GetValue<int>(), shape, generator: gen).to_type(ScalarType.Int64)
                : rand(shape, generator: gen) * 2 - 1;
        }).ToArray();

        var outputs = runner.Predict(inputs);

        var inferred = Surgeon.Shapes.ShapeInference.For(model);
        for (var o = 0; o < outputs.Count; o++)
        {
            Assert.True(outputs[o].isfinite().all().item<bool>(), $"{file}: output {o} is not finite");
            var expectedShape = inferred.OutputShapes(model.Outputs[o].Layer, model.Outputs[o].NodeIndex)?[model.Outputs[o].TensorIndex];
            if (expectedShape is not null)
                Assert.True(expectedShape.Skip(1).Select((d, k) => d is null || d == outputs[o].shape[k + 1]).All(b => b),
                    $"{file}: output {o} has shape [{string.Join(", ", outputs[o].shape)}], inferred {Surgeon.ModelSummary.Format(expectedShape)}");
            _output.WriteLine($"{file}: output {o} [{string.Join(", ", outputs[o].shape)}]");
            outputs[o].Dispose();
        }
    }

    // ================================================================ references (plain double loops)

    private delegate double[][] RefStep(double[] x, double[][] states);

    private sealed record RefResult(double[] Sequence, double[] Last, double[][] States);

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));

    private static double HardSigmoid2(double v) => Math.Clamp(0.2 * v + 0.5, 0, 1);

    private static double HardSigmoid3(double v) => Math.Clamp((v + 3) / 6, 0, 1);

    /// <summary>x·W[:, col] + b[col] for a row-major (in, cols) kernel.</summary>
    private static double Dot(double[] x, double[] w, int cols, int col)
    {
        var acc = 0.0;
        for (var i = 0; i < x.Length; i++) acc += x[i] * w[i * cols + col];
        return acc;
    }

    private static RefStep SimpleStep(double[] k, double[] u, double[]? b, int inDim, int units, Func<double, double> act) => (x, s) =>
    {
        var h = new double[units];
        for (var j = 0; j < units; j++) h[j] = act(Dot(x, k, units, j) + (b?[j] ?? 0) + Dot(s[0], u, units, j));
        return new[] { h };
    };

    private static RefStep GruStep(double[] k, double[] u, double[]? b, int inDim, int units, bool resetAfter, Func<double, double> act, Func<double, double> ra) => (x, s) =>
    {
        var g = 3 * units;
        var h = s[0];
        double InBias(int col) => b?[col] ?? 0;
        double RecBias(int col) => resetAfter && b is not null ? b[g + col] : 0;
        var z = new double[units];
        var r = new double[units];
        for (var j = 0; j < units; j++)
        {
            z[j] = ra(Dot(x, k, g, j) + InBias(j) + Dot(h, u, g, j) + RecBias(j));
            r[j] = ra(Dot(x, k, g, units + j) + InBias(units + j) + Dot(h, u, g, units + j) + RecBias(units + j));
        }
        var rh = h.Select((v, j) => r[j] * v).ToArray();
        var next = new double[units];
        for (var j = 0; j < units; j++)
        {
            var c = 2 * units + j;
            var recurrent = resetAfter ? r[j] * (Dot(h, u, g, c) + RecBias(c)) : Dot(rh, u, g, c);
            var hh = act(Dot(x, k, g, c) + InBias(c) + recurrent);
            next[j] = z[j] * h[j] + (1 - z[j]) * hh;
        }
        return new[] { next };
    };

    private static RefStep LstmStep(double[] k, double[] u, double[]? b, int inDim, int units, Func<double, double> act, Func<double, double> ra) => (x, s) =>
    {
        var g = 4 * units;
        double Z(int col) => Dot(x, k, g, col) + Dot(s[0], u, g, col) + (b?[col] ?? 0);
        var h = new double[units];
        var c = new double[units];
        for (var j = 0; j < units; j++)
        {
            var i = ra(Z(j));
            var f = ra(Z(units + j));
            c[j] = f * s[1][j] + i * act(Z(2 * units + j));
            var o = ra(Z(3 * units + j));
            h[j] = o * act(c[j]);
        }
        return new[] { h, c };
    };

    /// <summary>
    /// Keras's RNN loop (TensorFlow backend): steps in processing order (reversed for go_backwards, and so is the
    /// returned sequence); a masked step keeps the states and outputs zeros (zero_output_for_mask) or the previous output.
    /// </summary>
    private static RefResult RefRun(double[] x, int n, int steps, int inDim, RefStep step, int stateCount, int units, bool[]? mask,
        bool goBackwards, bool zeroOutput, double[][]? initial = null)
    {
        var sequence = new double[n * steps * units];
        var last = new double[n * units];
        var finals = Enumerable.Range(0, stateCount).Select(_ => new double[n * units]).ToArray();
        for (var b = 0; b < n; b++)
        {
            var states = Enumerable.Range(0, stateCount).Select(s => initial is null ? new double[units] : initial[s].Skip(b * units).Take(units).ToArray()).ToArray();
            var previous = new double[units];
            for (var k = 0; k < steps; k++)
            {
                var t = goBackwards ? steps - 1 - k : k;
                var xt = x.Skip((b * steps + t) * inDim).Take(inDim).ToArray();
                var next = step(xt, states);
                var on = mask?[b * steps + t] ?? true;
                var output = on ? next[0] : zeroOutput ? new double[units] : previous;
                if (on) states = next;
                Array.Copy(output, 0, sequence, (b * steps + k) * units, units);
                previous = output;
            }
            Array.Copy(previous, 0, last, b * units, units);
            for (var s = 0; s < stateCount; s++) Array.Copy(states[s], 0, finals[s], b * units, units);
        }
        return new RefResult(sequence, last, finals);
    }

    private sealed record ConvLstmResult(double[] Sequence, double[] Last, double[] H, double[] C);

    /// <summary>
    /// ConvLSTM2D on channels-last frames: gates i, f, c, o from conv(x, W, strides, dilation, padding) + b +
    /// conv(h, U, 'same'); TensorFlow's SAME pads total = max((ceil(in/s) − 1)·s + (k − 1)·d + 1 − in, 0), half before.
    /// </summary>
    private static ConvLstmResult ConvLstmRef(double[] x, int n, int steps, int h, int w, int cin, double[] k, double[] u, double[] b,
        int f, int kh, int kw, int stride, int dilation, bool same, bool goBackwards)
    {
        var (ho, wo) = (0, 0);
        Conv(new double[h * w * cin], h, w, cin, k, kh, kw, 4 * f, stride, dilation, same, ref ho, ref wo);
        var size = ho * wo * f;
        var sequence = new double[n * steps * size];
        var hs = new double[n * size];
        var cs = new double[n * size];
        for (var s = 0; s < n; s++)
        {
            var hPrev = new double[size];
            var cPrev = new double[size];
            for (var step = 0; step < steps; step++)
            {
                var t = goBackwards ? steps - 1 - step : step;
                var frame = x.Skip((s * steps + t) * h * w * cin).Take(h * w * cin).ToArray();
                int a1 = 0, a2 = 0, r1 = 0, r2 = 0;
                var zx = Conv(frame, h, w, cin, k, kh, kw, 4 * f, stride, dilation, same, ref a1, ref a2);
                var zh = Conv(hPrev, ho, wo, f, u, kh, kw, 4 * f, 1, 1, true, ref r1, ref r2);
                var hNext = new double[size];
                var cNext = new double[size];
                for (var p = 0; p < ho * wo; p++)
                    for (var j = 0; j < f; j++)
                    {
                        double Z(int gate) => zx[p * 4 * f + gate * f + j] + zh[p * 4 * f + gate * f + j] + b[gate * f + j];
                        var i = HardSigmoid2(Z(0));
                        var fg = HardSigmoid2(Z(1));
                        var c = fg * cPrev[p * f + j] + i * Math.Tanh(Z(2));
                        var o = HardSigmoid2(Z(3));
                        cNext[p * f + j] = c;
                        hNext[p * f + j] = o * Math.Tanh(c);
                    }
                hPrev = hNext;
                cPrev = cNext;
                Array.Copy(hNext, 0, sequence, (s * steps + step) * size, size);
            }
            Array.Copy(hPrev, 0, hs, s * size, size);
            Array.Copy(cPrev, 0, cs, s * size, size);
        }
        return new ConvLstmResult(sequence, hs, hs, cs);
    }

    /// <summary>2-D convolution of one channels-last image (h, w, cin) with an HWIO kernel; returns (ho, wo, cout).</summary>
    private static double[] Conv(double[] x, int h, int w, int cin, double[] k, int kh, int kw, int cout, int stride, int dilation, bool same, ref int ho, ref int wo)
    {
        int Out(int size, int kernel) => same ? (size + stride - 1) / stride : (size - ((kernel - 1) * dilation + 1)) / stride + 1;
        int PadBefore(int size, int kernel, int output) => same ? Math.Max((output - 1) * stride + (kernel - 1) * dilation + 1 - size, 0) / 2 : 0;
        ho = Out(h, kh);
        wo = Out(w, kw);
        var (pt, pl) = (PadBefore(h, kh, ho), PadBefore(w, kw, wo));
        var y = new double[ho * wo * cout];
        for (var i = 0; i < ho; i++)
            for (var j = 0; j < wo; j++)
                for (var o = 0; o < cout; o++)
                {
                    var acc = 0.0;
                    for (var a = 0; a < kh; a++)
                        for (var bb = 0; bb < kw; bb++)
                        {
                            var (yi, xj) = (i * stride + a * dilation - pt, j * stride + bb * dilation - pl);
                            if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
                            for (var c = 0; c < cin; c++) acc += x[(yi * w + xj) * cin + c] * k[((a * kw + bb) * cin + c) * cout + o];
                        }
                    y[(i * wo + j) * cout + o] = acc;
                }
        return y;
    }

    private static double[] Reverse(double[] sequence, int n, int steps, int units)
    {
        var r = new double[sequence.Length];
        for (var b = 0; b < n; b++)
            for (var t = 0; t < steps; t++)
                Array.Copy(sequence, (b * steps + t) * units, r, (b * steps + steps - 1 - t) * units, units);
        return r;
    }

    private static double[] ConcatLast(double[] a, double[] b, int rows, int units)
    {
        var r = new double[rows * 2 * units];
        for (var i = 0; i < rows; i++)
        {
            Array.Copy(a, i * units, r, i * 2 * units, units);
            Array.Copy(b, i * units, r, i * 2 * units + units, units);
        }
        return r;
    }

    // ================================================================ model building and comparison

    private static string B(bool b) => b ? "true" : "false";

    private static string Layer(string cls, string name, string config) => $$"""{"class_name": "{{cls}}", "config": {"name": "{{name}}", {{config}} } }""";

    private static string Chain(int?[] inputShape, string[] layers, params (string Layer, int Tensor)[] outputs) => Chain(inputShape, layers, outputs, "2.15.0");

    /// <summary>A functional model: an input, then each layer applied to the previous one's first output.</summary>
    private static string Chain(int?[] inputShape, string[] layers, (string Layer, int Tensor)[] outputs, string kerasVersion = "2.15.0", string dtype = "float32")
    {
        var list = new JsonArray
        {
            new JsonObject
            {
                ["name"] = "input", ["class_name"] = "InputLayer", ["inbound_nodes"] = new JsonArray(),
                ["config"] = new JsonObject { ["name"] = "input", ["batch_input_shape"] = JsonSerializer.SerializeToNode(inputShape), ["dtype"] = dtype },
            },
        };
        var previous = "input";
        foreach (var l in layers)
        {
            var o = JsonNode.Parse(l)!.AsObject();
            var name = o["config"]!["name"]!.GetValue<string>();
            o["name"] = name;
            o["inbound_nodes"] = new JsonArray(new JsonArray(new JsonArray(previous, 0, 0, new JsonObject())));
            list.Add(o);
            previous = name;
        }
        var root = new JsonObject
        {
            ["class_name"] = "Functional",
            ["config"] = new JsonObject
            {
                ["name"] = "m", ["layers"] = list,
                ["input_layers"] = new JsonArray(new JsonArray("input", 0, 0)),
                ["output_layers"] = new JsonArray(outputs.Select(x => (JsonNode)new JsonArray(x.Layer, 0, x.Tensor)).ToArray()),
            },
            ["keras_version"] = kerasVersion,
            ["backend"] = "tensorflow",
        };
        return root.ToJsonString();
    }

    /// <summary>The model of <paramref name="json"/> with uniform(−0.6, 0.6) weights of the given names and shapes (seeded).</summary>
    private static KerasModel WithWeights(string json, long seed, params (string Layer, (string Name, long[] Shape)[] Weights)[] weights)
    {
        using var skeleton = KerasFile.ParseArchitecture(json);
        var gen = new Generator((ulong)seed);
        var layers = skeleton.Layers.Select(l =>
        {
            var spec = weights.FirstOrDefault(w => w.Layer == l.Name).Weights ?? Array.Empty<(string, long[])>();
            var ws = spec.Select(s => new KerasWeight(s.Name, rand(s.Shape, generator: gen) * 1.2 - 0.6, true, null, null)).ToArray();
            return new KerasLayer(l.Entry, l.ClassName, l.Name, l.InboundNodes, ws, null, l.IsSynthesized);
        }).ToList();
        return new KerasModel(skeleton.Root, skeleton.ClassName, skeleton.Name, layers, skeleton.Inputs, skeleton.Outputs,
            skeleton.Source with { Format = ModelFormat.InMemory }) { Dialect = skeleton.Dialect };
    }

    private static Tensor Input(params long[] shape)
    {
        var gen = new Generator((ulong)shape.Aggregate(17L, (a, b) => a * 31 + b));
        return rand(shape, generator: gen) * 2 - 1;
    }

    private static IReadOnlyList<Tensor> Run(KerasModel model, Tensor x)
    {
        using var runner = ModelRunner.Create(model);
        return runner.Predict(new[] { x });
    }

    private static double[] D(Tensor t) => t.detach().cpu().to_type(ScalarType.Float64).contiguous().data<double>().ToArray();

    private static double[] W(KerasModel model, string layer, string weight) => D(model[layer].FindWeight(weight)!.Value);

    private void AssertClose(double[] expected, Tensor actual, string what)
    {
        var a = D(actual);
        Assert.True(expected.Length == a.Length, $"{what}: {a.Length} values [{string.Join(", ", actual.shape)}], expected {expected.Length}");
        var worst = expected.Zip(a, (e, v) => Math.Abs(e - v)).DefaultIfEmpty(0).Max();
        _output.WriteLine($"{what}: max abs error {worst:G3}");
        Assert.True(worst <= Atol, $"{what}: max abs difference {worst:G4} exceeds {Atol}");
    }

    private void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape), $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        AssertClose(D(expected), actual, what);
    }

    private static Tensor Dataset(PureHDF.VOL.Native.NativeFile h5, string path)
    {
        var ds = h5.Get(path) is IH5Group g ? g.Children().OfType<IH5Dataset>().Single() : h5.Dataset(path);
        var shape = ds.Space.Dimensions.Select(d => (long)d).ToArray();
        var values = ds.Type.Size == 8 ? ds.Read<double[]>().Select(v => (float)v).ToArray() : ds.Read<float[]>();
        return tensor(values).reshape(shape);
    }

    private static Tensor JsonTensor(string dataFile, string shapesFile)
    {
        using var data = JsonDocument.Parse(File.ReadAllText(dataFile));
        using var shapes = JsonDocument.Parse(File.ReadAllText(shapesFile));
        var values = data.RootElement[0].EnumerateArray().Select(v => v.GetSingle()).ToArray();
        return tensor(values).reshape(shapes.RootElement[0].EnumerateArray().Select(x => x.GetInt64()).ToArray());
    }
}
