using System.Text.Json.Nodes;
using OneCall = Surgeon.Surgery;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// InsertLayerBefore / InsertLayerAfter / ReplaceLayer: graph rewiring (only the chosen edge, unlike keras-surgeon),
/// shape checks, weights given or initialised, numerical identity for identity-like insertions, and save/reload.
/// </summary>
public sealed class LayerEditTests
{
    // x -> a -> b -> out, and a -> side; out and side are both model outputs.
    private const string Fork = """
        {"class_name": "Functional", "config": {"name": "fork", "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 5, "activation": "relu"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 5}, "inbound_nodes": [[["a", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "side", "config": {"name": "side", "units": 2}, "inbound_nodes": [[["a", 0, 0, {}]]]},
          {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 3}, "inbound_nodes": [[["b", 0, 0, {}]]]}],
          "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0], ["side", 0, 0]]}}
        """;

    private static IReadOnlyList<Tensor> Run(KerasModel model, Tensor input)
    {
        using var runner = ModelRunner.Create(model);
        return runner.Predict(new[] { input }).ToArray();
    }

    private static void AssertSame(IReadOnlyList<Tensor> expected, IReadOnlyList<Tensor> actual, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].shape, actual[i].shape);
            Assert.True((expected[i] - actual[i]).abs().max().item<float>() <= tolerance, $"output {i} differs");
        }
    }

    private static Tensor Input(long seed = 7) => rand(new long[] { 6, 4 }, generator: new Generator((ulong)seed)) * 2 - 1;

    [Fact]
    public void InsertLayerBefore_ChangesOnlyThatEdge_AndIdentityDenseKeepsOutputs()
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 1);
        using var eye5 = eye(5);
        using var zeros5 = zeros(5);
        var identity = new LayerSpec("Dense", LayerSpec.Dense(5).Config) { Name = "ident", Weights = new Dictionary<string, Tensor> { ["kernel"] = eye5, ["bias"] = zeros5 } };

        using var result = new ModelSurgeon(model).InsertLayerBefore("b", identity).Operate();

        Assert.Equal(new TensorRef("ident"), result.Model["b"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new TensorRef("a"), result.Model["ident"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new TensorRef("a"), result.Model["side"].InboundNodes[0].Inputs[0]); // the sibling keeps its input
        // The new layer is listed just before the layer it feeds (a .keras file lists Keras 3's graph order instead).
        Assert.Equal(new[] { "x", "a", "ident", "b", "side", "out" }, result.Model.Layers.Select(l => l.Name));
        Assert.Contains("ident", result.ChangedLayers);
        using var input = Input();
        AssertSame(Run(model, input), Run(result.Model, input));
        Assert.Null(model.FindLayer("ident")); // the input model is untouched
        Assert.Equal(new TensorRef("a"), model["b"].InboundNodes[0].Inputs[0]);
    }

    [Theory]
    [InlineData("edited.h5")]
    [InlineData("edited.keras")]
    public void InsertLayerAfter_ModelOutput_RewiresOutputAndSurvivesSaveAndReload(string file)
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 2);
        using var result = new ModelSurgeon(model)
            .InsertLayerAfter("out", LayerSpec.Activation("softmax", name: "probs"))
            .InsertLayerAfter("a", LayerSpec.Dropout(0.5))
            .Operate();

        Assert.Equal(new[] { new TensorRef("probs"), new TensorRef("side") }, result.Model.Outputs);
        Assert.Equal(new TensorRef("dropout"), result.Model["b"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new TensorRef("dropout"), result.Model["side"].InboundNodes[0].Inputs[0]);
        using var input = Input();
        var before = Run(model, input);
        var after = Run(result.Model, input);
        using var softmaxed = before[0].softmax(-1);
        AssertSame(new[] { softmaxed, before[1] }, after);

        using var dir = new TempDir();
        KerasFile.Save(result.Model, dir.File(file));
        using var reloaded = KerasFile.Load(dir.File(file));
        // A .keras file lists the layers in Keras 3's graph order, which names its weight groups.
        var order = file.EndsWith(".keras", StringComparison.Ordinal) ? GraphOrder.KerasLayers(result.Model) : result.Model.Layers;
        Assert.Equal(order.Select(l => l.Name).Where(n => n != "x"), reloaded.Layers.Select(l => l.Name).Where(n => n != "x"));
        Assert.Equal(new[] { "probs", "side" }, reloaded.Outputs.Select(o => o.Layer));
        AssertSame(after, Run(reloaded, input));
    }

    [Theory]
    [InlineData("seq.h5")]
    [InlineData("seq.keras")]
    public void ReplaceLayer_Sequential_KeepsNameAndGivenWeights_AndReloads(string file)
    {
        using var model = KerasFile.CreateFromArchitecture(Sequential(("Dense", new JsonObject { ["units"] = 5 }), ("Dense", new JsonObject { ["units"] = 3 })), seed: 3);
        var old = model["l1"];
        var spec = new LayerSpec("Dense", new JsonObject { ["units"] = 3, ["activation"] = "sigmoid" })
        {
            Name = "l1",
            Weights = old.Weights.ToDictionary(w => w.Name, w => w.Value),
        };

        using var result = new ModelSurgeon(model).ReplaceLayer("l1", spec).InsertLayerAfter("l0", LayerSpec.BatchNormalization(epsilon: 0)).Operate();

        Assert.Equal("sigmoid", result.Model["l1"].Config.GetProperty("activation").GetString());
        using var input = Input();
        var before = Run(model, input);
        using var expected = before[0].sigmoid();
        var after = Run(result.Model, input);
        AssertSame(new[] { expected }, after, 1e-5); // fresh BatchNormalization with epsilon 0 is the identity
        Assert.False(model["l1"].Config.TryGetProperty("activation", out _)); // the input model keeps its config

        using var dir = new TempDir();
        KerasFile.Save(result.Model, dir.File(file));
        using var reloaded = KerasFile.Load(dir.File(file));
        Assert.Equal(new[] { "l0", "batch_normalization", "l1" }, reloaded.Layers.Where(l => l.ClassName != "InputLayer").Select(l => l.Name));
        AssertSame(after, Run(reloaded, input), 1e-5);
    }

    [Fact]
    public void ReplaceLayer_FirstLayerOfSequential_TakesOverTheInputDeclaration()
    {
        var json = JsonNode.Parse(Sequential(("Dense", new JsonObject { ["units"] = 5 }), ("Dense", new JsonObject { ["units"] = 3 })))!;
        // Keras 2 style: no InputLayer, the first layer declares the input.
        var layers = (JsonArray)json["config"]!["layers"]!;
        layers.RemoveAt(0);
        layers[0]!["config"]!["batch_input_shape"] = new JsonArray(null, 4);
        using var model = KerasFile.CreateFromArchitecture(json.ToJsonString(), seed: 4);

        using var result = new ModelSurgeon(model).ReplaceLayer("l0", LayerSpec.Dense(5, "tanh")).Operate();
        using var dir = new TempDir();
        KerasFile.Save(result.Model, dir.File("m.h5"));
        using var reloaded = KerasFile.Load(dir.File("m.h5"));
        Assert.Equal(new[] { "dense", "l1" }, reloaded.Layers.Where(l => !l.IsSynthesized).Select(l => l.Name));
    }

    [SkippableTheory]
    [InlineData("lenet.h5")]
    [InlineData("lenet.keras")]
    public void Edits_OracleLenet_KeepRecordedOutputsThroughSaveAndReload(string file)
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
        var dense = model["dense_Dense1"];
        var same = new LayerSpec("Dense", (JsonObject)JsonNode.Parse(dense.Config.GetRawText())!)
        {
            Name = "dense_Dense1",
            Weights = dense.Weights.ToDictionary(w => w.Name, w => w.Value),
        };

        using var result = new ModelSurgeon(model)
            .InsertLayerAfter("conv2d_Conv2D1", LayerSpec.Dropout(0.25, name: "extra_dropout"))
            .InsertLayerBefore("conv2d_Conv2D2", LayerSpec.Activation("linear"))
            .ReplaceLayer("dense_Dense1", same)
            .Operate();
        using var dir = new TempDir();
        KerasFile.Save(result.Model, dir.File(file));
        using var reloaded = KerasFile.Load(dir.File(file));

        Assert.NotNull(reloaded.FindLayer("extra_dropout"));
        Assert.NotNull(reloaded.FindLayer("activation"));
        using var input = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet", "input.npy"));
        using var recorded = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet", "output.npy"));
        using var runner = ModelRunner.Create(reloaded);
        using var output = runner.Predict(input);
        Forward.RecordedOutputTests.AssertClose(recorded, output, file);
    }

    [SkippableFact]
    public void Edits_RealKeras3Sequential_KeepOutputsThroughKerasSaveAndReload()
    {
        var fixture = SharedFixtures.Model("real/keras/model.keras"); // Keras 3: Masking -> LSTM, batch fixed at 2
        using var model = KerasFile.Load(fixture.Path);
        var lstm = model["lstm"];
        var copy = new LayerSpec("LSTM", (JsonObject)JsonNode.Parse(lstm.Config.GetRawText())!)
        {
            Name = "lstm",
            Weights = lstm.Weights.ToDictionary(w => w.Name, w => w.Value),
        };

        using var result = new ModelSurgeon(model).InsertLayerAfter("masking", LayerSpec.Dropout(0.5)).ReplaceLayer("lstm", copy).Operate();
        using var dir = new TempDir();
        KerasFile.Save(result.Model, dir.File("edited.keras"));
        using var reloaded = KerasFile.Load(dir.File("edited.keras"));

        Assert.Equal(new[] { "masking", "dropout", "lstm" }, reloaded.Layers.Where(l => l.ClassName != "InputLayer").Select(l => l.Name));
        using var input = rand(new long[] { 2, 3, 2 }, generator: new Generator(5));
        AssertSame(Run(model, input), Run(reloaded, input));
    }

    [Fact]
    public void Edits_ThatChangeShapes_AreRefusedNamingLayersAndShapes()
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 5);

        var insert = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).InsertLayerBefore("b", LayerSpec.Dense(4, name: "narrow")).Operate());
        Assert.Contains("'narrow'", insert.Message);
        Assert.Contains("'b'", insert.Message);
        Assert.Contains("(None, 4)", insert.Message);
        Assert.Contains("(None, 5)", insert.Message);

        var replace = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model).ReplaceLayer("side", LayerSpec.Dense(3)).Operate());
        Assert.Contains("'side'", replace.Message);

        using var wrong = zeros(4, 5);
        var weights = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model)
            .ReplaceLayer("b", new LayerSpec("Dense", new JsonObject { ["units"] = 5 }) { Weights = new Dictionary<string, Tensor> { ["kernel"] = wrong } }).Operate());
        Assert.Contains("'kernel'", weights.Message);
        Assert.Contains("[5, 5]", weights.Message);

        foreach (var (cls, config) in new[] { ("Dense", "{}"), ("Dense", "{\"units\": \"abc\"}"), ("Conv2D", "{\"filters\": 6}") })
        {
            var malformed = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model)
                .InsertLayerAfter("a", new LayerSpec(cls, (JsonObject)JsonNode.Parse(config)!) { Name = "odd" }).Operate());
            Assert.Contains("'odd'", malformed.Message);
            Assert.Contains("incomplete or malformed", malformed.Message);
        }

        using var bogus = zeros(5);
        var unknown = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model)
            .ReplaceLayer("b", new LayerSpec("Dense", new JsonObject { ["units"] = 5 }) { Weights = new Dictionary<string, Tensor> { ["gamma"] = bogus } }).Operate());
        Assert.Contains("'gamma'", unknown.Message);
    }

    [Theory]
    [InlineData("deleted.h5")]
    [InlineData("deleted.keras")]
    public void DeleteLayer_ThatReordersBranches_SurvivesSaveAndReload(string file)
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 9);
        using var result = new ModelSurgeon(model).DeleteLayer("b").Operate();
        using var dir = new TempDir();
        KerasFile.Save(result.Model, dir.File(file));
        using var reloaded = KerasFile.Load(dir.File(file));
        using var input = Input();
        AssertSame(Run(result.Model, input), Run(reloaded, input));
    }

    [Fact]
    public void OneCall_InsertThenDeleteTheInsertedLayer_GivesBackTheOriginalOutputs()
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 10);
        using var inserted = OneCall.InsertLayerAfter(model, "a", new LayerSpec("Dense", LayerSpec.Dense(5, "tanh").Config) { Name = "mix", Seed = 3 });
        using var deleted = OneCall.DeleteLayer(inserted, "mix");
        using var input = Input();

        var original = Run(model, input);
        var changed = Run(inserted, input);
        Assert.True((original[0] - changed[0]).abs().max().item<float>() > 1e-3); // the inserted layer does something
        AssertSame(original, Run(deleted, input));
        Assert.Equal(model.Layers.Select(l => l.Name).Order(), deleted.Layers.Select(l => l.Name).Order());
    }

    [Fact]
    public void Pooling_SameShapeMaxPool_InsertsIntoAConvModel()
    {
        var json = """
            {"class_name": "Functional", "config": {"name": "conv", "layers": [
              {"class_name": "InputLayer", "name": "img", "config": {"batch_input_shape": [null, 6, 6, 2], "name": "img"}, "inbound_nodes": []},
              {"class_name": "Conv2D", "name": "c", "config": {"name": "c", "filters": 3, "kernel_size": [3, 3], "padding": "same"}, "inbound_nodes": [[["img", 0, 0, {}]]]},
              {"class_name": "GlobalAveragePooling2D", "name": "g", "config": {"name": "g"}, "inbound_nodes": [[["c", 0, 0, {}]]]}],
              "input_layers": [["img", 0, 0]], "output_layers": [["g", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 11);
        using var result = OneCall.InsertLayerAfter(model, "c", LayerSpec.Pooling("MaxPooling2D", 1));
        using var input = rand(2, 6, 6, 2);
        AssertSame(Run(model, input), Run(result, input));
        Assert.Equal("max_pooling2d", result.Layers[2].Name); // Keras's default names: the class in snake case
        using (var conv = OneCall.InsertLayerAfter(model, "c", LayerSpec.Conv2D(3, 1, "same")))
            Assert.NotNull(conv.FindLayer("conv2d"));
        Assert.Contains("(None, 3, 3, 3)", Assert.Throws<SurgeonException>(() => OneCall.InsertLayerAfter(model, "c", LayerSpec.Pooling("MaxPooling2D", 2))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerSpec.Pooling("GlobalMaxPooling2D", 2));
    }

    [Fact]
    public void Edits_BadArguments_FailWhenAdded()
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 6);
        var surgeon = new ModelSurgeon(model);

        Assert.Contains("'bb'", Assert.Throws<SurgeonException>(() => surgeon.InsertLayerAfter("bb", LayerSpec.Dropout(0.1))).Message);
        Assert.Contains("already used", Assert.Throws<SurgeonException>(() => surgeon.InsertLayerAfter("b", LayerSpec.Dropout(0.1, name: "side"))).Message);
        Assert.Contains("input layer", Assert.Throws<SurgeonException>(() => surgeon.ReplaceLayer("x", LayerSpec.Dropout(0.1))).Message);
        surgeon.InsertLayerAfter("b", LayerSpec.Dropout(0.1, name: "d"));
        Assert.Contains("one job", Assert.Throws<SurgeonException>(() => surgeon.ReplaceLayer("b", LayerSpec.Dropout(0.1))).Message);
        Assert.Contains("two new layers", Assert.Throws<SurgeonException>(() => surgeon.InsertLayerAfter("a", LayerSpec.Dropout(0.1, name: "d"))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerSpec.Dropout(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LayerSpec.Dense(0));
    }

    [Fact]
    public void InsertLayerAfter_Input_AndWithChannelDeletion_ComposeInOrder()
    {
        using var model = KerasFile.CreateFromArchitecture(Fork, seed: 8);

        using var result = new ModelSurgeon(model)
            .DeleteChannels("a", new[] { 1, 3 })
            .InsertLayerAfter("x", LayerSpec.Dropout(0.2, name: "drop_in"))
            .InsertLayerBefore("side", LayerSpec.Activation("linear", name: "lin"))
            .Operate();

        Assert.Equal(new TensorRef("drop_in"), result.Model["a"].InboundNodes[0].Inputs[0]);
        Assert.Equal(new long[] { 3, 2 }, result.Model["side"].FindWeight("kernel")!.Shape);
        Assert.Equal(new[] { 1, 3 }, result.DeletedChannels["a"]);
        // Channels 1 and 3 of 'a' are ReLU outputs of a Dense; zeroing them is what the deletion must equal.
        Assert.True(result.MaxDifference(model) < 1e-5);
    }

    private static string Sequential(params (string Class, JsonObject Config)[] layers)
    {
        var list = new JsonArray { new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, 4), ["name"] = "in" } } };
        for (var i = 0; i < layers.Length; i++)
        {
            layers[i].Config["name"] = $"l{i}";
            list.Add(new JsonObject { ["class_name"] = layers[i].Class, ["config"] = layers[i].Config });
        }
        return new JsonObject { ["class_name"] = "Sequential", ["config"] = new JsonObject { ["name"] = "s", ["layers"] = list } }.ToJsonString();
    }

    [Theory]
    [InlineData("before")]
    [InlineData("after-input")]
    public void Insert_NewFirstLayerOfASequentialWithoutInputLayer_TakesOverTheInputShape(string where)
    {
        const string json = """
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "Dense", "config": {"name": "d0", "units": 5, "batch_input_shape": [null, 4]}},
              {"class_name": "Dense", "config": {"name": "d1", "units": 3}}]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 9);
        using var dir = new TempDir();
        var surgeon = new ModelSurgeon(model);
        var input = model.Layers[0].Name; // the input layer Keras would make
        if (where == "before") surgeon.InsertLayerBefore("d0", LayerSpec.Dropout(0.2, name: "drop"));
        else surgeon.InsertLayerAfter(input, LayerSpec.Dropout(0.2, name: "drop"));

        using var result = surgeon.Operate();
        KerasFile.Save(result.Model, dir.File("s.h5"));
        using var reloaded = KerasFile.Load(dir.File("s.h5"));

        var names = reloaded.Layers.Where(l => !l.IsSynthesized).Select(l => l.Name).ToArray();
        Assert.Equal(new[] { "drop", "d0", "d1" }, names);
        Assert.True(reloaded["drop"].Config.TryGetProperty("batch_input_shape", out _));
        Assert.False(reloaded["d0"].Config.TryGetProperty("batch_input_shape", out _));
        using var x = rand(2, 4);
        var before = Run(model, x);
        var after = Run(reloaded, x);
        AssertSame(before, after);
    }

    [Fact]
    public void ReplaceLayer_MultiOutputLstm_RewiresEveryOutput_AndChecksTheirCount()
    {
        const string json = """
            {"class_name": "Functional", "config": {"name": "states", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 5, 3], "name": "x"}, "inbound_nodes": []},
              {"class_name": "LSTM", "name": "lstm", "config": {"name": "lstm", "units": 4, "return_state": true}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "d", "config": {"name": "d", "units": 2}, "inbound_nodes": [[["lstm", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "e", "config": {"name": "e", "units": 2}, "inbound_nodes": [[["lstm", 0, 2, {}]]]}],
              "input_layers": [["x", 0, 0]], "output_layers": [["d", 0, 0], ["e", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 12);
        var weights = model["lstm"].Weights.ToDictionary(w => w.Name, w => w.Value);

        using var result = new ModelSurgeon(model)
            .ReplaceLayer("lstm", new LayerSpec("LSTM", new JsonObject { ["units"] = 4, ["return_state"] = true }) { Name = "lstm2", Weights = weights })
            .Operate();
        var e = Assert.Throws<SurgeonException>(() => new ModelSurgeon(model)
            .ReplaceLayer("lstm", new LayerSpec("GRU", new JsonObject { ["units"] = 4, ["return_state"] = true })).Operate());

        Assert.Equal(new TensorRef("lstm2", 0, 2), result.Model["e"].InboundNodes[0].Inputs[0]);
        using var x = rand(2, 5, 3);
        AssertSame(Run(model, x), Run(result.Model, x));
        Assert.Contains("outputs (None, 4), (None, 4) where (None, 4), (None, 4), (None, 4) is needed", e.Message);
    }
}
