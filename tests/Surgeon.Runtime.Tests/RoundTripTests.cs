using System.IO.Compression;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>Load, save in both Keras formats, load again: same architecture and bit-identical weights.</summary>
public sealed class RoundTripTests
{
    [SkippableTheory]
    [MemberData(nameof(SharedFixtures.ModelIds), MemberType = typeof(SharedFixtures))]
    public void SaveLegacyH5_EveryFixture_ReloadsIdentically(string id)
    {
        var fixture = SharedFixtures.Model(id);
        using var original = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });
        using var dir = new TempDir();
        var path = dir.File("model.h5");
        if (original.IsOpaque)
        {
            // A subclassed model (no layer list in its config) cannot be expressed in Keras's HDF5 format.
            var e = Assert.Throws<KerasFormatException>(() => KerasFile.Save(original, path));
            Assert.Contains("Save it as .keras", e.Message);
            Assert.Empty(Directory.GetFiles(dir.Path));
            return;
        }

        KerasFile.Save(original, path);
        using var reloaded = KerasFile.Load(path);

        ModelAssert.Identical(original, reloaded);
        H5Dump.AssertReadable(path);
        Assert.Equal(new[] { "model.h5" }, Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void SaveKerasArchive_ConfigNotInKerasGraphOrder_ReloadsEachWeightIntoItsLayer()
    {
        // Keras 3 orders these layers 'b' before 'a' (depth first from the outputs); the config lists 'a' first, as a
        // model built or edited here may. Weight groups are named in Keras's order, so the config must follow it.
        const string json = """
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 3], "name": "x"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 4}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 5}, "inbound_nodes": [[["x", 0, 0, {}]]]},
              {"class_name": "Concatenate", "name": "c", "config": {"name": "c", "axis": -1}, "inbound_nodes": [[["b", 0, 0, {}], ["a", 0, 0, {}]]]}],
              "input_layers": [["x", 0, 0]], "output_layers": [["c", 0, 0]]}}
            """;
        using var model = KerasFile.CreateFromArchitecture(json, seed: 1);
        using var dir = new TempDir();

        KerasFile.Save(model, dir.File("m.keras"));
        using var reloaded = KerasFile.Load(dir.File("m.keras"));

        foreach (var name in new[] { "a", "b" })
            Assert.True(model[name].FindWeight("kernel")!.Value.eq(reloaded[name].FindWeight("kernel")!.Value).all().item<bool>(), name);
    }

    [SkippableTheory]
    [MemberData(nameof(SharedFixtures.ModelIds), MemberType = typeof(SharedFixtures))]
    public void SaveKerasArchive_EveryFixture_ReloadsIdentically(string id)
    {
        var fixture = SharedFixtures.Model(id);
        using var original = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });
        using var dir = new TempDir();
        var path = dir.File("model.keras");
        if (original.Source.KerasMajorVersion == 1 || IsUnbuilt(original))
        {
            // Keras 1 configs and weight layouts (per-gate LSTM arrays), and an unbuilt model without the weights its
            // layers need, are nothing Keras 3 can load: the writer refuses rather than write a file that fails later.
            var e = Assert.Throws<KerasFormatException>(() => KerasFile.Save(original, path));
            Assert.Contains("Keras 3", e.Message);
            Assert.Contains(path, e.Message);
            Assert.Empty(Directory.GetFiles(dir.Path));
            return;
        }

        KerasFile.Save(original, path);
        using var reloaded = KerasFile.Load(path);

        if (original.Dialect == KerasDialect.Keras3)
        {
            ModelAssert.Identical(original, reloaded);
        }
        else
        {
            // A .keras file holds the Keras 3 dialect: the tf.keras/tfjs config is converted, graph and weights kept,
            // and the converted file is stable under a second round trip.
            Assert.Null(ModelComparison.FindDifference(original, reloaded, ComparisonMode.Graph));
            Assert.Equal(KerasDialect.Keras3, reloaded.Dialect);
            AssertKeras3Config(reloaded);
            var again = dir.File("again.keras");
            KerasFile.Save(reloaded, again);
            using var second = KerasFile.Load(again);
            ModelAssert.Identical(reloaded, second);
        }
        using var zip = ZipFile.OpenRead(path);
        Assert.Equal(new[] { "metadata.json", "config.json", "model.weights.h5" }, zip.Entries.Select(e => e.FullName));
        Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
        var weights = dir.File("weights.h5");
        zip.GetEntry("model.weights.h5")!.ExtractToFile(weights);
        H5Dump.AssertReadable(weights);
    }

    /// <summary>What Keras 3's .keras loader needs of every layer entry: module and registered_name keys, dict nodes.</summary>
    private static void AssertKeras3Config(KerasModel model)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(model.ToJson())!.AsObject();
        Assert.True(root.ContainsKey("module"));
        foreach (var layer in root["config"]!["layers"]!.AsArray())
        {
            Assert.True(layer!.AsObject().ContainsKey("module") || !LayerCatalog.IsKnown(layer["class_name"]!.GetValue<string>()), layer.ToJsonString());
            Assert.False(layer["config"]!.AsObject().ContainsKey("batch_input_shape"));
            if (layer["inbound_nodes"] is System.Text.Json.Nodes.JsonArray nodes)
                Assert.All(nodes, n => Assert.IsType<System.Text.Json.Nodes.JsonObject>(n));
        }
    }

    private static bool IsUnbuilt(KerasModel model) =>
        model.Layers.Any(l => l.ClassName == "Dense" && l.Weights.Count == 0);
}
