using Surgeon.Runtime.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>
/// Attention, AdditiveAttention and MultiHeadAttention against a reference written here with plain loops (no
/// TorchSharp math), following the Keras source (keras/src/layers/attention/*.py, tf.keras 2.11
/// base_dense_attention.py / multi_head_attention.py). Masked scores get −1e9 in float32, as Keras does.
/// </summary>
public sealed class AttentionKernelTests
{
    private const double Atol = 1e-5;

    // ------------------------------------------------------------------ Attention / AdditiveAttention

    [Fact]
    public void Attention_Dot_WithQueryAndValueMasks_MatchesReference()
    {
        const int b = 2, tq = 4, tv = 5, d = 3;
        var q = Random(1, b * tq * d);
        var v = Random(2, b * tv * d);
        ZeroStep(q, tq, d, batch: 0, step: 2);             // masked query step: output zero
        ZeroStep(v, tv, d, batch: 0, step: 4);             // masked value steps
        ZeroStep(v, tv, d, batch: 1, step: 1);
        var json = Keras2Model(
            new[]
            {
                Input2("q", tq, d), Input2("v", tv, d),
                Layer2("Masking", "qm", "\"mask_value\": 0.0", "[[\"q\", 0, 0, {}]]"),
                Layer2("Masking", "vm", "\"mask_value\": 0.0", "[[\"v\", 0, 0, {}]]"),
                Layer2("Attention", "att", "\"use_scale\": false, \"score_mode\": \"dot\", \"dropout\": 0.1", "[[\"qm\", 0, 0, {}], [\"vm\", 0, 0, {}]]"),
            },
            new[] { "q", "v" }, new[] { "[\"att\", 0, 0]" });
        using var model = KerasFile.CreateFromArchitecture(json);

        var actual = Run(model, (q, new long[] { b, tq, d }), (v, new long[] { b, tv, d }));

        var expected = DenseReference(q, v, v, b, tq, tv, d, d, "dot", null, null, 1, StepMask(q, b, tq, d), StepMask(v, b, tv, d), causal: false, out _);
        AssertClose(expected, actual[0], "Attention dot");
    }

    [Fact]
    public void Attention_UseScale_WithSeparateKey_MatchesReference()
    {
        const int b = 2, tq = 3, tv = 4, d = 3, dv = 2;
        var q = Random(3, b * tq * d);
        var v = Random(4, b * tv * dv);
        var k = Random(5, b * tv * d);
        var json = Keras2Model(
            new[]
            {
                Input2("q", tq, d), Input2("v", tv, dv), Input2("k", tv, d),
                Layer2("Attention", "att", "\"use_scale\": true, \"score_mode\": \"dot\"", "[[\"q\", 0, 0, {}], [\"v\", 0, 0, {}], [\"k\", 0, 0, {}]]"),
            },
            new[] { "q", "v", "k" }, new[] { "[\"att\", 0, 0]" });
        using var model = WithWeights(json, ("att", "scale", Array.Empty<long>(), new[] { 0.7f }));

        var actual = Run(model, (q, new long[] { b, tq, d }), (v, new long[] { b, tv, dv }), (k, new long[] { b, tv, d }));

        var expected = DenseReference(q, v, k, b, tq, tv, d, dv, "dot", 0.7, null, 1, null, null, causal: false, out _);
        AssertClose(expected, actual[0], "Attention use_scale");
    }

    [Fact]
    public void Attention_ConcatScoreMode_WithScaleAndValueMask_MatchesReference()
    {
        const int b = 2, tq = 3, tv = 4, d = 3;
        var q = Random(6, b * tq * d);
        var v = Random(7, b * tv * d);
        ZeroStep(v, tv, d, batch: 1, step: 0);
        var json = Keras2Model(
            new[]
            {
                Input2("q", tq, d), Input2("v", tv, d),
                Layer2("Masking", "vm", "\"mask_value\": 0.0", "[[\"v\", 0, 0, {}]]"),
                Layer2("Attention", "att", "\"use_scale\": true, \"score_mode\": \"concat\"", "[[\"q\", 0, 0, {}], [\"vm\", 0, 0, {}]]"),
            },
            new[] { "q", "v" }, new[] { "[\"att\", 0, 0]" });
        using var model = WithWeights(json,
            ("att", "scale", Array.Empty<long>(), new[] { 0.6f }),
            ("att", "concat_score_weight", Array.Empty<long>(), new[] { 1.3f }));

        var actual = Run(model, (q, new long[] { b, tq, d }), (v, new long[] { b, tv, d }));

        var expected = DenseReference(q, v, v, b, tq, tv, d, d, "concat", 0.6, null, 1.3, null, StepMask(v, b, tv, d), causal: false, out _);
        AssertClose(expected, actual[0], "Attention concat");
    }

    [Theory]
    [InlineData(false)] // use_causal_mask call argument (tf.keras >= 2.10, Keras 3)
    [InlineData(true)]  // causal config argument (tf.keras < 2.10)
    public void Attention_Causal_WithValueMaskAndScores_MatchesReference(bool configArgument)
    {
        const int b = 2, t = 4, d = 3;
        var q = Random(8, b * t * d);
        var v = Random(9, b * t * d);
        ZeroStep(v, t, d, batch: 0, step: 2);
        var config = configArgument ? "\"use_scale\": false, \"causal\": true" : "\"use_scale\": false";
        var kwargs = configArgument ? "{}" : "{\"use_causal_mask\": true, \"return_attention_scores\": true}";
        var outputs = configArgument ? new[] { "[\"att\", 0, 0]" } : new[] { "[\"att\", 0, 0]", "[\"att\", 0, 1]" };
        var json = Keras2Model(
            new[]
            {
                Input2("q", t, d), Input2("v", t, d),
                Layer2("Masking", "vm", "\"mask_value\": 0.0", "[[\"v\", 0, 0, {}]]"),
                Layer2("Attention", "att", config, $"[[\"q\", 0, 0, {kwargs}], [\"vm\", 0, 0, {kwargs}]]"),
            },
            new[] { "q", "v" }, outputs);
        using var model = KerasFile.CreateFromArchitecture(json);

        var actual = Run(model, (q, new long[] { b, t, d }), (v, new long[] { b, t, d }));

        var expected = DenseReference(q, v, v, b, t, t, d, d, "dot", null, null, 1, null, StepMask(v, b, t, d), causal: true, out var weights);
        AssertClose(expected, actual[0], "causal Attention");
        if (!configArgument)
        {
            Assert.Equal(new long[] { b, t, t }, actual[1].Shape);
            AssertClose(weights, actual[1], "causal Attention scores");
        }
    }

    [Fact]
    public void AdditiveAttention_UseScale_WithValueMask_MatchesReference()
    {
        const int b = 2, tq = 3, tv = 5, d = 4;
        var q = Random(10, b * tq * d);
        var v = Random(11, b * tv * d);
        ZeroStep(v, tv, d, batch: 0, step: 3);
        var scale = Random(12, d);
        var json = Keras2Model(
            new[]
            {
                Input2("q", tq, d), Input2("v", tv, d),
                Layer2("Masking", "vm", "\"mask_value\": 0.0", "[[\"v\", 0, 0, {}]]"),
                Layer2("AdditiveAttention", "add", "\"use_scale\": true, \"dropout\": 0.0", "[[\"q\", 0, 0, {}], [\"vm\", 0, 0, {}]]"),
            },
            new[] { "q", "v" }, new[] { "[\"add\", 0, 0]" });
        using var model = WithWeights(json, ("add", "scale", new long[] { d }, scale));

        var actual = Run(model, (q, new long[] { b, tq, d }), (v, new long[] { b, tv, d }));

        var expected = DenseReference(q, v, v, b, tq, tv, d, d, "additive", null, scale, 1, null, StepMask(v, b, tv, d), causal: false, out _);
        AssertClose(expected, actual[0], "AdditiveAttention");
    }

    // ------------------------------------------------------------------ MultiHeadAttention

    private sealed record MhaWeights(float[] Wq, float[]? Bq, float[] Wk, float[]? Bk, float[] Wv, float[]? Bv, float[] Wo, float[]? Bo);

    private static MhaWeights NewMhaWeights(int seed, int dq, int dk, int dv, int heads, int keyDim, int valueDim, int dOut, bool bias) => new(
        Random(seed, dq * heads * keyDim), bias ? Random(seed + 1, heads * keyDim) : null,
        Random(seed + 2, dk * heads * keyDim), bias ? Random(seed + 3, heads * keyDim) : null,
        Random(seed + 4, dv * heads * valueDim), bias ? Random(seed + 5, heads * valueDim) : null,
        Random(seed + 6, heads * valueDim * dOut), bias ? Random(seed + 7, dOut) : null);

    private static (string, string, long[], float[])[] MhaWeightList(string layer, MhaWeights w, int dq, int dk, int dv, int heads, int keyDim, int valueDim, int dOut)
    {
        var list = new List<(string, string, long[], float[])>
        {
            (layer, "query/kernel", new long[] { dq, heads, keyDim }, w.Wq),
            (layer, "key/kernel", new long[] { dk, heads, keyDim }, w.Wk),
            (layer, "value/kernel", new long[] { dv, heads, valueDim }, w.Wv),
            (layer, "attention_output/kernel", new long[] { heads, valueDim, dOut }, w.Wo),
        };
        if (w.Bq is not null)
        {
            list.Add((layer, "query/bias", new long[] { heads, keyDim }, w.Bq));
            list.Add((layer, "key/bias", new long[] { heads, keyDim }, w.Bk!));
            list.Add((layer, "value/bias", new long[] { heads, valueDim }, w.Bv!));
            list.Add((layer, "attention_output/bias", new long[] { dOut }, w.Bo!));
        }
        return list.ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MultiHeadAttention_Keras3_QueryValueKey_WithMasks_MatchesReference(bool useBias)
    {
        const int b = 2, t = 3, s = 4, dq = 5, dk = 6, heads = 2, keyDim = 3, valueDim = 4, dOut = 7;
        var q = Random(20, b * t * dq);
        var v = Random(21, b * s * dq);
        var k = Random(22, b * s * dk);
        ZeroStep(v, s, dq, batch: 1, step: 2); // value mask
        ZeroStep(q, t, dq, batch: 0, step: 1); // query mask: that row attends to nothing (uniform weights in float32)
        var w = NewMhaWeights(30, dq, dk, dq, heads, keyDim, valueDim, dOut, useBias);
        var config = $"\"num_heads\": {heads}, \"key_dim\": {keyDim}, \"value_dim\": {valueDim}, \"dropout\": 0.0, \"use_bias\": {(useBias ? "true" : "false")}, \"output_shape\": {dOut}, \"attention_axes\": null";
        var json = Keras3Model(
            new[]
            {
                Input3("q", t, dq), Input3("v", s, dq), Input3("k", s, dk),
                Layer3("Masking", "qm", "\"mask_value\": 0.0", $"{{\"args\": [{KerasTensor("q", t, dq)}], \"kwargs\": {{}}}}"),
                Layer3("Masking", "vm", "\"mask_value\": 0.0", $"{{\"args\": [{KerasTensor("v", s, dq)}], \"kwargs\": {{}}}}"),
                // Called as mha(qm, vm, key=k): the key comes from kwargs, after the positional tensors.
                Layer3("MultiHeadAttention", "mha", config,
                    $"{{\"args\": [{KerasTensor("qm", t, dq)}, {KerasTensor("vm", s, dq)}], \"kwargs\": {{\"key\": {KerasTensor("k", s, dk)}, \"query_mask\": null, \"value_mask\": null, \"key_mask\": null}}}}"),
            },
            new[] { "q", "v", "k" }, "[\"mha\", 0, 0]");
        using var model = WithWeights(json, MhaWeightList("mha", w, dq, dk, dq, heads, keyDim, valueDim, dOut));

        var actual = Run(model, (q, new long[] { b, t, dq }), (v, new long[] { b, s, dq }), (k, new long[] { b, s, dk }));

        var expected = MhaReference(q, k, v, w, b, t, s, dq, dk, dq, heads, keyDim, valueDim, dOut, StepMask(q, b, t, dq), StepMask(v, b, s, dq), causal: false);
        Assert.Equal(new long[] { b, t, dOut }, actual[0].Shape);
        AssertClose(expected, actual[0], $"MultiHeadAttention use_bias={useBias}");
    }

    [Fact]
    public void MultiHeadAttention_Keras3_KeywordArgumentsInAnyOrder_AndCausal_MatchesReference()
    {
        const int b = 2, t = 4, d = 4, heads = 2, keyDim = 3, valueDim = 2;
        var q = Random(40, b * t * d);
        var v = Random(41, b * t * d);
        var w = NewMhaWeights(50, d, d, d, heads, keyDim, valueDim, d, bias: true);
        var config = $"\"num_heads\": {heads}, \"key_dim\": {keyDim}, \"value_dim\": {valueDim}, \"use_bias\": true, \"output_shape\": null, \"attention_axes\": [1]";
        var json = Keras3Model(
            new[]
            {
                Input3("q", t, d), Input3("v", t, d),
                // mha(value=v, query=q, use_causal_mask=True): value is serialized before query.
                Layer3("MultiHeadAttention", "mha", config,
                    $"{{\"args\": [], \"kwargs\": {{\"value\": {KerasTensor("v", t, d)}, \"query\": {KerasTensor("q", t, d)}, \"use_causal_mask\": true}}}}"),
            },
            new[] { "q", "v" }, "[\"mha\", 0, 0]");
        using var model = WithWeights(json, MhaWeightList("mha", w, d, d, d, heads, keyDim, valueDim, d));

        var actual = Run(model, (q, new long[] { b, t, d }), (v, new long[] { b, t, d }));

        var expected = MhaReference(q, v, v, w, b, t, t, d, d, d, heads, keyDim, valueDim, d, null, null, causal: true);
        AssertClose(expected, actual[0], "causal MultiHeadAttention");
    }

    [Fact]
    public void MultiHeadAttention_Keras2_SelfAttention_ValueAsKeywordTensor_MatchesReference()
    {
        // tf.keras 2 saves mha(x, x) as [[["x", 0, 0, {"value": ["x", 0, 0]}]]]: one listed tensor.
        const int b = 2, t = 3, d = 4, heads = 2, keyDim = 3, valueDim = 2;
        var x = Random(60, b * t * d);
        ZeroStep(x, t, d, batch: 1, step: 2);
        var w = NewMhaWeights(70, d, d, d, heads, keyDim, valueDim, d, bias: true);
        var config = $"\"num_heads\": {heads}, \"key_dim\": {keyDim}, \"value_dim\": {valueDim}, \"dropout\": 0.1, \"use_bias\": true, \"output_shape\": null, \"attention_axes\": [1], \"query_shape\": [null, {t}, {d}], \"key_shape\": [null, {t}, {d}], \"value_shape\": [null, {t}, {d}]";
        var json = Keras2Model(
            new[]
            {
                Input2("x", t, d),
                Layer2("Masking", "xm", "\"mask_value\": 0.0", "[[\"x\", 0, 0, {}]]"),
                Layer2("MultiHeadAttention", "mha", config, "[[\"xm\", 0, 0, {\"value\": [\"xm\", 0, 0]}]]"),
            },
            new[] { "x" }, new[] { "[\"mha\", 0, 0]" });
        using var model = WithWeights(json, MhaWeightList("mha", w, d, d, d, heads, keyDim, valueDim, d));

        var actual = Run(model, (x, new long[] { b, t, d }));

        var mask = StepMask(x, b, t, d);
        var expected = MhaReference(x, x, x, w, b, t, t, d, d, d, heads, keyDim, valueDim, d, mask, mask, causal: false);
        AssertClose(expected, actual[0], "Keras 2 self-attention");
    }

    [SkippableFact]
    public void MultiHeadAttention_Keras2_CrossAttention_ValueAsKeywordTensor_MatchesReference()
    {
        // tf.keras 2 saves mha(q, v) as [[["q", 0, 0, {"value": ["v", 0, 0]}]]]: the value is only in the kwargs.
        const int b = 2, t = 3, s = 5, d = 4, heads = 2, keyDim = 3, valueDim = 3;
        var q = Random(80, b * t * d);
        var v = Random(81, b * s * d);
        var w = NewMhaWeights(90, d, d, d, heads, keyDim, valueDim, d, bias: true);
        var config = $"\"num_heads\": {heads}, \"key_dim\": {keyDim}, \"value_dim\": {valueDim}, \"use_bias\": true, \"output_shape\": null, \"attention_axes\": null";
        var json = Keras2Model(
            new[]
            {
                Input2("q", t, d), Input2("v", s, d),
                Layer2("MultiHeadAttention", "mha", config, "[[\"q\", 0, 0, {\"value\": [\"v\", 0, 0]}]]"),
            },
            new[] { "q", "v" }, new[] { "[\"mha\", 0, 0]" });
        using var model = WithWeights(json, MhaWeightList("mha", w, d, d, d, heads, keyDim, valueDim, d));
        Skip.If(model.FindLayer("mha")!.InboundNodes[0].Inputs.Count < 2,
            "The config parser does not list the tensors of Keras 2 keyword arguments (the 'value' of mha(q, v)) among the node's inputs yet.");

        var actual = Run(model, (q, new long[] { b, t, d }), (v, new long[] { b, s, d }));

        var expected = MhaReference(q, v, v, w, b, t, s, d, d, d, heads, keyDim, valueDim, d, null, null, causal: false);
        AssertClose(expected, actual[0], "Keras 2 cross-attention");
    }

    [Fact]
    public void MultiHeadAttention_NonDefaultAttentionAxes_IsRefusedNamingTheLayer()
    {
        const int t = 3, d = 4, heads = 2, keyDim = 3;
        var w = NewMhaWeights(100, d, d, d, heads, keyDim, keyDim, d, bias: true);
        var config = $"\"num_heads\": {heads}, \"key_dim\": {keyDim}, \"value_dim\": {keyDim}, \"use_bias\": true, \"output_shape\": null, \"attention_axes\": [2], \"query_shape\": [null, {t}, {d}], \"key_shape\": [null, {t}, {d}], \"value_shape\": [null, {t}, {d}]";
        var json = Keras2Model(
            new[] { Input2("x", t, d), Layer2("MultiHeadAttention", "odd_mha", config, "[[\"x\", 0, 0, {\"value\": [\"x\", 0, 0]}]]") },
            new[] { "x" }, new[] { "[\"odd_mha\", 0, 0]" });
        using var model = WithWeights(json, MhaWeightList("odd_mha", w, d, d, d, heads, keyDim, keyDim, d));

        var e = Assert.ThrowsAny<SurgeonException>(() => ModelRunner.Create(model).Dispose());

        Assert.Contains("odd_mha", e.Message);
        Assert.Contains("attention_axes", e.Message);
    }

    // ------------------------------------------------------------------ real fixture

    [SkippableFact]
    public void Attention_RealKeras211Fixture_RunsAndMatchesReference()
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var path = Path.Combine(SharedFixtures.RealRoot, "dl4j-test-resources", "src", "main", "resources", "modelimport", "keras", "weights", "keras-attention.h5");
        Skip.IfNot(File.Exists(path), $"{path} is absent.");
        using var model = KerasFile.Load(path);
        using var runner = ModelRunner.Create(model);
        const int b = 3, features = 22;
        using var input = torch.tensor(Random(110, b * features)).reshape(b, features);

        using var result = runner.Forward(new[] { input }, new[] { "dense", "attention" });

        // The layer was called on 2-D (batch, 32) tensors: tf.matmul(q, k, transpose_b=True) makes (batch, batch) scores.
        var dense = Floats(result.LayerOutputs["dense"][0]);
        var units = (int)result.LayerOutputs["dense"][0].shape[1];
        var expected = new float[b * units];
        for (var i = 0; i < b; i++)
        {
            var scores = new double[b];
            for (var j = 0; j < b; j++)
            {
                for (var c = 0; c < units; c++) scores[j] += (double)dense[i * units + c] * dense[j * units + c];
            }
            var p = Softmax(scores);
            for (var c = 0; c < units; c++)
            {
                double sum = 0;
                for (var j = 0; j < b; j++) sum += p[j] * dense[j * units + c];
                expected[i * units + c] = (float)sum;
            }
        }
        AssertClose(expected, result.LayerOutputs["attention"][0], "keras-attention.h5 attention");
        Assert.Equal(new long[] { b, 1 }, result.Outputs[0].shape);
        Assert.All(Floats(result.Outputs[0]), x => Assert.True(float.IsFinite(x)));
    }

    // ------------------------------------------------------------------ references (plain loops, double accumulation)

    /// <summary>
    /// Keras dense attention. q (b, tq, d), k (b, tv, d), v (b, tv, dv). mode: dot | concat | additive. Masked scores
    /// are s − 1e9 rounded to float32, as Keras computes them.
    /// </summary>
    private static float[] DenseReference(float[] q, float[] v, float[] k, int b, int tq, int tv, int d, int dv, string mode,
        double? scale, float[]? scaleVector, double concatWeight, bool[]? queryMask, bool[]? valueMask, bool causal, out float[] weightsOut)
    {
        var output = new float[b * tq * dv];
        weightsOut = new float[b * tq * tv];
        for (var n = 0; n < b; n++)
        {
            for (var i = 0; i < tq; i++)
            {
                var scores = new double[tv];
                for (var j = 0; j < tv; j++)
                {
                    double s = 0;
                    for (var c = 0; c < d; c++)
                    {
                        double qc = q[(n * tq + i) * d + c], kc = k[(n * tv + j) * d + c];
                        s += mode switch
                        {
                            "dot" => qc * kc,
                            "concat" => Math.Tanh((scale ?? 1.0) * (qc + kc)),
                            _ => (scaleVector is null ? 1.0 : scaleVector[c]) * Math.Tanh(qc + kc),
                        };
                    }
                    if (mode == "dot" && scale is { } sc) s *= sc;
                    if (mode == "concat") s *= concatWeight;
                    var allowed = (valueMask is null || valueMask[n * tv + j]) && (!causal || i >= j);
                    scores[j] = allowed ? s : MaskedScore(s);
                }
                var p = Softmax(scores);
                for (var j = 0; j < tv; j++) weightsOut[(n * tq + i) * tv + j] = (float)p[j];
                var keep = queryMask is null || queryMask[n * tq + i];
                for (var c = 0; c < dv; c++)
                {
                    double sum = 0;
                    for (var j = 0; j < tv; j++) sum += p[j] * v[(n * tv + j) * dv + c];
                    output[(n * tq + i) * dv + c] = keep ? (float)sum : 0f;
                }
            }
        }
        return output;
    }

    /// <summary>
    /// Keras MultiHeadAttention on rank-3 inputs: q (b, t, dq), k (b, s, dk), v (b, s, dv); kernels (in, heads, dim),
    /// output kernel (heads, valueDim, dOut). Attention mask = query mask (b, t, 1) AND value mask (b, 1, s) AND causal.
    /// </summary>
    private static float[] MhaReference(float[] q, float[] k, float[] v, MhaWeights w, int b, int t, int s, int dq, int dk, int dv,
        int heads, int keyDim, int valueDim, int dOut, bool[]? queryMask, bool[]? valueMask, bool causal)
    {
        double[] Project(float[] x, int steps, int dim, float[] kernel, float[]? bias, int channels)
        {
            var y = new double[b * steps * heads * channels];
            for (var n = 0; n < b; n++)
                for (var i = 0; i < steps; i++)
                    for (var h = 0; h < heads; h++)
                        for (var c = 0; c < channels; c++)
                        {
                            double sum = bias is null ? 0 : bias[h * channels + c];
                            for (var e = 0; e < dim; e++) sum += (double)x[(n * steps + i) * dim + e] * kernel[(e * heads + h) * channels + c];
                            y[((n * steps + i) * heads + h) * channels + c] = (float)sum; // Keras keeps float32 projections
                        }
            return y;
        }
        var qp = Project(q, t, dq, w.Wq, w.Bq, keyDim);
        var kp = Project(k, s, dk, w.Wk, w.Bk, keyDim);
        var vp = Project(v, s, dv, w.Wv, w.Bv, valueDim);
        var scale = (float)(1.0 / Math.Sqrt(keyDim));
        var combined = new double[b * t * heads * valueDim];
        for (var n = 0; n < b; n++)
            for (var h = 0; h < heads; h++)
                for (var i = 0; i < t; i++)
                {
                    var scores = new double[s];
                    for (var j = 0; j < s; j++)
                    {
                        double sum = 0;
                        for (var c = 0; c < keyDim; c++)
                            sum += (double)(float)(qp[((n * t + i) * heads + h) * keyDim + c] * scale) * kp[((n * s + j) * heads + h) * keyDim + c];
                        var allowed = (queryMask is null || queryMask[n * t + i]) && (valueMask is null || valueMask[n * s + j]) && (!causal || i >= j);
                        scores[j] = allowed ? sum : MaskedScore(sum);
                    }
                    var p = Softmax(scores);
                    for (var c = 0; c < valueDim; c++)
                    {
                        double sum = 0;
                        for (var j = 0; j < s; j++) sum += p[j] * vp[((n * s + j) * heads + h) * valueDim + c];
                        combined[((n * t + i) * heads + h) * valueDim + c] = sum;
                    }
                }
        var output = new float[b * t * dOut];
        for (var n = 0; n < b; n++)
            for (var i = 0; i < t; i++)
                for (var o = 0; o < dOut; o++)
                {
                    double sum = w.Bo is null ? 0 : w.Bo[o];
                    for (var h = 0; h < heads; h++)
                        for (var c = 0; c < valueDim; c++)
                            sum += combined[((n * t + i) * heads + h) * valueDim + c] * w.Wo[(h * valueDim + c) * dOut + o];
                    output[(n * t + i) * dOut + o] = (float)sum;
                }
        return output;
    }

    /// <summary>A masked score as Keras computes it in float32: s − 1e9 (which rounds away s's small differences).</summary>
    private static double MaskedScore(double s) => (float)((float)s - 1.0e9f);

    private static double[] Softmax(double[] x)
    {
        var max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    // ------------------------------------------------------------------ helpers

    private static float[] Random(int seed, int count)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    private static void ZeroStep(float[] x, int steps, int features, int batch, int step) =>
        Array.Clear(x, (batch * steps + step) * features, features);

    /// <summary>The Masking(0.0) mask: a step is kept when any feature is non-zero.</summary>
    private static bool[] StepMask(float[] x, int b, int steps, int features) =>
        Enumerable.Range(0, b * steps).Select(i => Enumerable.Range(0, features).Any(c => x[i * features + c] != 0f)).ToArray();

    private static IReadOnlyList<Result> Run(KerasModel model, params (float[] Data, long[] Shape)[] inputs)
    {
        using var runner = ModelRunner.Create(model);
        var tensors = inputs.Select(i => torch.tensor(i.Data).reshape(i.Shape)).ToArray();
        var outputs = runner.Predict(tensors);
        var results = outputs.Select(o => new Result(Floats(o), o.shape)).ToArray();
        foreach (var t in tensors.Concat(outputs)) t.Dispose();
        return results;
    }

    private sealed record Result(float[] Values, long[] Shape);

    private static float[] Floats(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    private static void AssertClose(float[] expected, Result actual, string what) => AssertClose(expected, actual.Values, what);

    private static void AssertClose(float[] expected, Tensor actual, string what) => AssertClose(expected, Floats(actual), what);

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0.0;
        var at = -1;
        for (var i = 0; i < expected.Length; i++)
        {
            var diff = Math.Abs((double)expected[i] - actual[i]);
            if (!(diff <= worst)) { worst = diff; at = i; }
        }
        Console.WriteLine($"{what}: max abs error {worst:E2}");
        Assert.True(worst <= Atol, $"{what}: max abs error {worst:E3} at #{at} (expected {expected[Math.Max(at, 0)]}, got {actual[Math.Max(at, 0)]}).");
    }

    /// <summary>The model of <paramref name="json"/> with the given weights (the initialiser does not build attention weights).</summary>
    private static KerasModel WithWeights(string json, params (string Layer, string Name, long[] Shape, float[] Data)[] weights)
    {
        using var skeleton = KerasFile.ParseArchitecture(json);
        var layers = skeleton.Layers.Select(l => new KerasLayer(l.Entry, l.ClassName, l.Name, l.InboundNodes,
            weights.Where(w => w.Layer == l.Name).Select(w => new KerasWeight(w.Name, torch.tensor(w.Data).reshape(w.Shape), true, null, null)).ToArray(),
            l.NestedModel, l.IsSynthesized)).ToList();
        return new KerasModel(skeleton.Root, skeleton.ClassName, skeleton.Name, layers, skeleton.Inputs, skeleton.Outputs, skeleton.Source)
        {
            Dialect = skeleton.Dialect,
        };
    }

    // tf.keras 2 architecture JSON: nested-list inbound nodes.
    private static string Input2(string name, params int[] shape) =>
        $"{{\"class_name\": \"InputLayer\", \"config\": {{\"batch_input_shape\": [null, {string.Join(", ", shape)}], \"dtype\": \"float32\", \"sparse\": false, \"ragged\": false, \"name\": \"{name}\"}}, \"name\": \"{name}\", \"inbound_nodes\": []}}";

    private static string Layer2(string cls, string name, string config, string node) =>
        $"{{\"class_name\": \"{cls}\", \"config\": {{\"name\": \"{name}\", \"trainable\": true, \"dtype\": \"float32\", {config}}}, \"name\": \"{name}\", \"inbound_nodes\": [{node}]}}";

    private static string Keras2Model(string[] layers, string[] inputs, string[] outputs) =>
        $"{{\"class_name\": \"Functional\", \"config\": {{\"name\": \"model\", \"layers\": [{string.Join(", ", layers)}], " +
        $"\"input_layers\": [{string.Join(", ", inputs.Select(i => $"[\"{i}\", 0, 0]"))}], \"output_layers\": [{string.Join(", ", outputs)}]}}, " +
        "\"keras_version\": \"2.11.0\", \"backend\": \"tensorflow\"}";

    // Keras 3 architecture JSON: {"args", "kwargs"} inbound nodes holding __keras_tensor__ objects.
    private static string Input3(string name, params int[] shape) =>
        $"{{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": {{\"batch_shape\": [null, {string.Join(", ", shape)}], \"dtype\": \"float32\", \"sparse\": false, \"name\": \"{name}\"}}, \"registered_name\": null, \"name\": \"{name}\", \"inbound_nodes\": []}}";

    private static string Layer3(string cls, string name, string config, string node) =>
        $"{{\"module\": \"keras.layers\", \"class_name\": \"{cls}\", \"config\": {{\"name\": \"{name}\", \"trainable\": true, \"dtype\": \"float32\", {config}}}, \"registered_name\": null, \"name\": \"{name}\", \"inbound_nodes\": [{node}]}}";

    private static string KerasTensor(string layer, params int[] shape) =>
        $"{{\"class_name\": \"__keras_tensor__\", \"config\": {{\"shape\": [null, {string.Join(", ", shape)}], \"dtype\": \"float32\", \"keras_history\": [\"{layer}\", 0, 0]}}}}";

    private static string Keras3Model(string[] layers, string[] inputs, string output) =>
        $"{{\"module\": \"keras\", \"class_name\": \"Functional\", \"config\": {{\"name\": \"model\", \"trainable\": true, \"layers\": [{string.Join(", ", layers)}], " +
        $"\"input_layers\": [{string.Join(", ", inputs.Select(i => $"[\"{i}\", 0, 0]"))}], \"output_layers\": [{output}]}}, " +
        "\"registered_name\": \"Functional\", \"keras_version\": \"3.5.0\"}";
}
