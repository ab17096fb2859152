using System.IO.Compression;
using Surgeon.Generators.Architecture;
using Surgeon.Generators.Json;
using Surgeon.Generators.Model;
using Surgeon.Generators.Plans;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>The generator's parts on their own: JSON reader, member names, model-file matching, known names, Keras 3 nodes.</summary>
public sealed class GeneratorPartsTests
{
    [Fact]
    public void JsonReader_ReadsValuesEscapesAndPythonSpecials()
    {
        var node = (JsonObject)JsonReader.Parse("\uFEFF {\"a\": [1, -2.5e1, true, false, null, NaN, Infinity, -Infinity], \"s\": \"x\\\"\\u00e9\\n\", \"a\": 3}");

        Assert.Equal(3, node.Int("a")); // the last value of a repeated key wins, as in Python
        var list = (JsonArray)node.Properties[0].Value;
        Assert.Equal(-25.0, ((JsonNumber)list[1]).Value);
        Assert.True(double.IsNaN(((JsonNumber)list[5]).Value));
        Assert.True(double.IsNegativeInfinity(((JsonNumber)list[7]).Value));
        Assert.Equal("x\"é\n", node.String("s"));
        Assert.Equal(32, JsonReader.Parse("32.0").AsInt());
        Assert.Null(JsonReader.Parse("32.5").AsInt());
    }

    [Theory]
    [InlineData("{\"a\": 1,}", "expected a property name in double quotes (line 1, column 9)")]
    [InlineData("[1 2]", "expected ',' or ']' in an array (line 1, column 4)")]
    [InlineData("{\"a\": 01}", "expected ',' or '}' in an object (line 1, column 8)")]
    [InlineData("\"abc", "unterminated string (line 1, column 5)")]
    [InlineData("{}\n x", "unexpected text after the JSON value (line 2, column 2)")]
    [InlineData("", "unexpected end of the text (line 1, column 1)")]
    public void JsonReader_ReportsWhereTheTextIsMalformed(string text, string message)
    {
        var e = Assert.Throws<JsonReadException>(() => JsonReader.Parse(text));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void JsonReader_RefusesNestingDeeperThan256()
    {
        var e = Assert.Throws<JsonReadException>(() => JsonReader.Parse(new string('[', 300) + new string(']', 300)));
        Assert.StartsWith("nesting deeper than 256 levels", e.Message);
    }

    [Theory]
    [InlineData("conv2d_1", "Conv2d1")]
    [InlineData("block1_conv1", "Block1Conv1")]
    [InlineData("conv1/bn", "Conv1Bn")]
    [InlineData("1x1_conv", "_1x1Conv")]
    [InlineData("dense", "Dense")]
    [InlineData("___", "Layer")]
    [InlineData("café-au-lait", "CaféAuLait")]
    [InlineData("embedding_Embedding1", "EmbeddingEmbedding1")]
    public void IdentifierNames_PascalCaseFromKerasNames(string keras, string expected) =>
        Assert.Equal(expected, IdentifierNames.FromKerasName(keras));

    [Fact]
    public void IdentifierNames_ResolveCollisionsInModelOrder()
    {
        var layers = new[] { "conv2d_1", "conv2d1", "Conv2d_1", "layers", "all", "to_string" }
            .Select(n => new LayerInfo(n, "Dense", 1, "unknown", null, EquatableArray<CallInfo>.Empty, 0, false, null));

        var names = IdentifierNames.Assign(layers).Select(m => m.Identifier);

        Assert.Equal(new[] { "Conv2d1", "Conv2d1_2", "Conv2d1_3", "Layers_2", "All_2", "ToString_2" }, names);
    }

    [Fact]
    public void ModelFileMatcher_FollowsItsRulesInOrder()
    {
        ArchitectureResult File(string path, string? source = null) => new(path, source, null, null);
        ArchitectureCatalog Catalog(string? dir, params ArchitectureResult[] files) => new(dir, files.ToEquatableArray());

        // 1. SurgeonSourceModel metadata wins over a file that merely has a matching name.
        var extracted = File("/p/obj/a/lenet.h5.architecture.json", "/p/models/lenet.h5");
        Assert.Same(extracted, ModelFileMatcher.Find(Catalog("/p/", File("/p/obj/b/lenet.h5.architecture.json"), extracted), "models/lenet.h5"));
        // 2. The path resolved against the project directory (separators, '.' and '..' normalised, case ignored).
        var json = File("C:\\P\\Models\\LeNet.json");
        Assert.Same(json, ModelFileMatcher.Find(Catalog("c:/p/", File("c:/other/models/lenet.json"), json), "./sub/../models/lenet.json"));
        // 3. Without a project directory: a path suffix.
        Assert.Same(json, ModelFileMatcher.Find(Catalog(null, json), "Models/LeNet.json"));
        // 4. Anywhere, by file name + .architecture.json.
        var anywhere = File("/build/obj/surgeon/net.keras.architecture.json");
        Assert.Same(anywhere, ModelFileMatcher.Find(Catalog("/p/", anywhere), "models/net.keras"));
        Assert.Null(ModelFileMatcher.Find(Catalog("/p/", json), "models/other.json"));
    }

    [Fact]
    public void KnownNames_MatchTheAttributeTypes()
    {
        Assert.Equal(KnownNames.SurgeryPlanAttribute, typeof(SurgeryPlanAttribute).FullName);
        Assert.Equal(KnownNames.DeleteChannelsAttribute, typeof(DeleteChannelsAttribute).FullName);
        Assert.Equal(KnownNames.DeleteLayerAttribute, typeof(DeleteLayerAttribute).FullName);
        Assert.Equal(KnownNames.PlanBuilder, typeof(PlanBuilder).FullName);
    }

    /// <summary>
    /// Keras 3 args/kwargs nodes on graphs the real fixtures hold only in older dialects: each model is saved as .keras
    /// by Surgeon.Runtime (which writes Keras 3 configs), and the generator's reading of the archive's config.json must
    /// give the runtime's graph, and the same fingerprint as the original file.
    /// </summary>
    [SkippableTheory]
    [InlineData("kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json")]
    [InlineData("dl4j-test-resources/src/main/resources/modelimport/keras/examples/deepfm/deepfm.h5")]
    [InlineData("dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/rnn_127.h5")]
    [InlineData("siamese")]
    public void Keras3Archive_WrittenByTheRuntime_HasTheSameGraphAndFingerprint(string fixture)
    {
        using var model = fixture == "siamese" ? KerasFile.CreateFromArchitecture(SyntheticArchitectures.Siamese, seed: 3)
            : fixture.EndsWith(".json", StringComparison.Ordinal) ? KerasFile.CreateFromArchitecture(File.ReadAllText(Fixtures.Real(fixture)), seed: 3)
            : KerasFile.Load(Fixtures.Real(fixture));
        var path = Path.Combine(Path.GetTempPath(), $"surgeon-gen-{Guid.NewGuid():N}.keras");
        try
        {
            KerasFile.Save(model, path);
            using var reloaded = KerasFile.Load(path);
            var config = FixtureCatalog.StoredArchitecture(path)!;
            using (var zip = ZipFile.OpenRead(path))
            using (var reader = new StreamReader(zip.GetEntry("config.json")!.Open()))
                Assert.Contains("__keras_tensor__", reader.ReadToEnd());

            Assert.Equal(ArchitectureFingerprint.CanonicalText(reloaded), Fingerprint.CanonicalText(ArchitectureParser.ParseGraph(config, out _)));
            Assert.Equal(model.ArchitectureFingerprint, ArchitectureParser.ParseSpec(config, CancellationToken.None).Fingerprint);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
