using System.Text.Json;
using PureHDF;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>
/// Every model with recorded inputs and outputs reproduces them: the oracle models (TensorFlow.js, every layer's
/// activation recorded too), the tfjs-layers integration data, DL4J's Keras test files and the derived expectations.
/// Tolerance: |actual - expected| &lt;= 1e-5 + 1e-4 * |expected|.
/// </summary>
public sealed class RecordedOutputTests
{
    public const double Atol = 1e-5;
    public const double Rtol = 1e-4;

    public static TheoryData<string> OracleModels()
    {
        var data = new TheoryData<string>();
        if (Directory.Exists(SharedFixtures.OracleRoot))
        {
            foreach (var dir in Directory.GetDirectories(SharedFixtures.OracleRoot).Where(d => File.Exists(Path.Combine(d, "output.npy"))).OrderBy(d => d, StringComparer.Ordinal))
                data.Add(Path.GetFileName(dir));
        }
        if (data.Count == 0) data.Add("<no oracle>");
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(OracleModels))]
    public void Predict_OracleModel_MatchesRecordedOutputAndEveryLayer(string name)
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        var dir = Path.Combine(SharedFixtures.OracleRoot, name);
        using var model = KerasFile.Load(dir);
        using var runner = ModelRunner.Create(model);
        using var input = NpyFile.Read(Path.Combine(dir, "input.npy"));
        using var expected = NpyFile.Read(Path.Combine(dir, "output.npy"));

        var layerFiles = Directory.Exists(Path.Combine(dir, "layer_outputs"))
            ? Directory.GetFiles(Path.Combine(dir, "layer_outputs"), "*.npy").OrderBy(f => f, StringComparer.Ordinal).ToArray()
            : Array.Empty<string>();
        // "NN_<layer>.npy": the layer name follows the two-digit index.
        var layers = layerFiles.Select(f => Path.GetFileNameWithoutExtension(f)[3..]).ToArray();
        using var result = runner.Forward(new[] { input }, layers);

        AssertClose(expected, result.Outputs[0], $"{name} output");
        for (var i = 0; i < layers.Length; i++)
        {
            using var recorded = NpyFile.Read(layerFiles[i]);
            AssertClose(recorded, result.LayerOutputs[layers[i]][0], $"{name} layer {layers[i]}");
        }
    }

    public static TheoryData<string> TfjsLayersCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in new[] { "mlp", "cnn", "depthwise_cnn", "functional_merge.json", "one_dimensional", "gru", "simple_rnn", "bidirectional_lstm", "time_distributed_lstm" })
            data.Add(c);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(TfjsLayersCases))]
    public void Predict_TfjsLayersIntegrationModel_MatchesRecordedOutputs(string name)
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var root = Path.Combine(SharedFixtures.RealRoot, "tfjs-layers", "integration_tests", "tfjs2keras", "test-data");
        using var model = KerasFile.Load(Path.Combine(root, name));
        using var runner = ModelRunner.Create(model);
        var inputs = JsonTensors(Path.Combine(root, name + ".xs-data.json"), Path.Combine(root, name + ".xs-shapes.json"));
        var expected = JsonTensors(Path.Combine(root, name + ".ys-data.json"), Path.Combine(root, name + ".ys-shapes.json"));

        var outputs = runner.Predict(inputs);

        Assert.Equal(expected.Length, outputs.Count);
        for (var i = 0; i < expected.Length; i++) AssertClose(expected[i], outputs[i], $"{name} output {i}");
        foreach (var t in inputs.Concat(expected).Concat(outputs)) t.Dispose();
    }

    public static TheoryData<string, string> Dl4jCases() => new()
    {
        { "activations/ELU_0_model.h5", "activations/ELU_0_inputs_and_outputs.h5" },
        { "activations/LeakyReLU_0_model.h5", "activations/LeakyReLU_0_inputs_and_outputs.h5" },
        { "causal_conv1d/causal_conv1d_k3_s1_d2_cl_model.h5", "causal_conv1d/causal_conv1d_k3_s1_d2_cl_inputs_and_outputs.h5" },
        { "conv1d/conv1d_k2_s1_d1_cl_same_model.h5", "conv1d/conv1d_k2_s1_d1_cl_same_inputs_and_outputs.h5" },
        { "simple_flatten_rnn/simple_flatten_rnn_tf_keras_2_model.h5", "simple_flatten_rnn/simple_flatten_rnn_tf_keras_2_inputs_and_outputs.h5" },
        { "simple_lstm/simple_lstm_tf_keras_1_model.h5", "simple_lstm/simple_lstm_tf_keras_1_inputs_and_outputs.h5" },
        { "simple_rnn/simple_rnn_tf_keras_2_model.h5", "simple_rnn/simple_rnn_tf_keras_2_inputs_and_outputs.h5" },
        { "simple_sparse_xent/simple_sparse_xent_mlp_keras_2_model.h5", "simple_sparse_xent/simple_sparse_xent_mlp_keras_2_inputs_and_outputs.h5" },
    };

    [SkippableTheory]
    [MemberData(nameof(Dl4jCases))]
    public void Predict_Dl4jKerasExample_MatchesRecordedPredictions(string modelFile, string dataFile)
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var root = Path.Combine(SharedFixtures.RealRoot, "dl4j-test-resources", "src", "main", "resources", "modelimport", "keras", "examples");
        using var model = KerasFile.Load(Path.Combine(root, modelFile));
        using var runner = ModelRunner.Create(model);
        using var h5 = H5File.OpenRead(Path.Combine(root, dataFile));
        using var input = DatasetTensor(h5, "inputs");
        using var expected = DatasetTensor(h5, "predictions");
        // DL4J's files also record each layer's activation under activations/<layer>.
        var recorded = h5.Group("activations").Children().OfType<IH5Dataset>().Where(d => model.FindLayer(d.Name) is not null).ToList();

        using var result = runner.Forward(new[] { input }, recorded.Select(d => d.Name));

        AssertClose(expected, result.Outputs[0], modelFile);
        foreach (var d in recorded)
        {
            using var activation = DatasetTensor(d);
            AssertClose(activation, result.LayerOutputs[d.Name][0], $"{modelFile} layer {d.Name}");
        }
    }

    [SkippableFact]
    public void Predict_CnnBatchNorm_MatchesKerasPredictions()
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        var dir = Path.Combine(SharedFixtures.RealRoot, "dl4j-test-resources", "src", "main", "resources", "modelimport", "keras", "fullconfigs", "cnn");
        using var model = KerasFile.Load(Path.Combine(dir, "cnn_batch_norm.h5"));
        using var runner = ModelRunner.Create(model);
        using var input = NpyFile.Read(Path.Combine(dir, "input.npy"));
        using var expected = NpyFile.Read(Path.Combine(dir, "predictions.npy"));

        using var output = runner.Predict(input);

        AssertClose(expected, output, "cnn_batch_norm");
        // The upstream predict.py asserts these values.
        AssertClose(tensor(new[] { -0.0520611f, 0.04986075f, 0.16297522f, 0.15389983f, 0.15537278f }).reshape(5, 1), output, "cnn_batch_norm asserted");
    }

    [SkippableFact]
    public void Predict_TfjsLoadPredictModel_MatchesDerivedExpectation()
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedFixtures.RealRoot, "_derived", "tfjs_load_predict_layers_model.expected.json")));
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.RealRoot, "tfjs", "e2e", "integration_tests", "load_predict_data", "layers_model"));
        using var runner = ModelRunner.Create(model);
        var input = doc.RootElement.GetProperty("input").GetProperty("values").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var expected = doc.RootElement.GetProperty("expected_output").GetProperty("values").EnumerateArray().Select(v => v.GetSingle()).ToArray();

        using var x = tensor(input).reshape(1, input.Length);
        using var output = runner.Predict(x);

        AssertClose(tensor(expected).reshape(1, expected.Length), output, "tfjs load_predict");
    }

    internal static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        using var e = expected.to_type(ScalarType.Float64).cpu();
        using var a = actual.to_type(ScalarType.Float64).cpu();
        Assert.True(e.shape.SequenceEqual(a.shape), $"{what}: shape [{string.Join(", ", a.shape)}], expected [{string.Join(", ", e.shape)}]");
        using var diff = (a - e).abs();
        using var bound = e.abs() * Rtol + Atol;
        var worst = diff.numel() == 0 ? 0 : diff.max().item<double>();
        Assert.True(diff.le(bound).all().item<bool>(), $"{what}: max abs difference {worst:G4} exceeds {Atol} + {Rtol} * |expected|");
    }

    /// <summary>The dataset at <paramref name="name"/>, or the single dataset inside the group of that name.</summary>
    private static Tensor DatasetTensor(PureHDF.VOL.Native.NativeFile h5, string name) =>
        DatasetTensor(h5.Get(name) is IH5Group g ? g.Children().OfType<IH5Dataset>().Single() : h5.Dataset(name));

    private static Tensor DatasetTensor(IH5Dataset ds)
    {
        var shape = ds.Space.Dimensions.Select(d => (long)d).ToArray();
        var values = ds.Type.Size == 8 ? ds.Read<double[]>().Select(v => (float)v).ToArray() : ds.Read<float[]>();
        return tensor(values).reshape(shape);
    }

    /// <summary>tfjs-layers integration data: a JSON list of flat value lists and a JSON list of shapes.</summary>
    private static Tensor[] JsonTensors(string dataFile, string shapesFile)
    {
        using var data = JsonDocument.Parse(File.ReadAllText(dataFile));
        using var shapes = JsonDocument.Parse(File.ReadAllText(shapesFile));
        return data.RootElement.EnumerateArray().Zip(shapes.RootElement.EnumerateArray(), (d, s) =>
            tensor(d.EnumerateArray().Select(v => v.GetSingle()).ToArray()).reshape(s.EnumerateArray().Select(x => x.GetInt64()).ToArray())).ToArray();
    }
}
