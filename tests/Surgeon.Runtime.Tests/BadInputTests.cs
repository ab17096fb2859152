using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Surgeon.IO;
using Surgeon.Runtime.Tests.BadInput;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests;

/// <summary>
/// Runs <see cref="BadInputTests"/> alone: they measure process-wide allocation and peak memory, which tests running
/// alongside would disturb.
/// </summary>
[CollectionDefinition(nameof(BadInputTests), DisableParallelization = true)]
public sealed class BadInputCollection
{
}

/// <summary>
/// Truncated, corrupt, hostile and inconsistent model files: every one must fail fast with a
/// <see cref="KerasFormatException"/> naming the file (and the layer at fault), without allocating what it declares.
/// </summary>
[Collection(nameof(BadInputTests))]
public sealed class BadInputTests : IDisposable
{
    private const string LegacyH5 = "dl4j-test-resources/src/main/resources/modelimport/keras/tfkeras/cnn2d_64.h5";
    private const string KerasArchive = "keras/model.keras";
    private const string TfjsMlp = "tfjs-layers/integration_tests/tfjs2keras/test-data/mlp/model.json";
    private const string WeightsOnlyH5 = "dl4j-test-resources/src/main/resources/modelimport/keras/examples/simple_lstm/simple_lstm_tf_keras_2_weights.h5";
    private const string LstmArchitecture = "dl4j-test-resources/src/main/resources/modelimport/keras/examples/simple_lstm/simple_lstm_tf_keras_2_config.json";
    private const string Conv1dArchitecture = "dl4j-test-resources/src/main/resources/modelimport/keras/examples/conv1d/conv1d_k2_s1_d1_cl_same_config.json";
    private const string DataH5 = "dl4j-test-resources/src/main/resources/modelimport/keras/examples/activations/ELU_0_inputs_and_outputs.h5";

    /// <summary>Longest a failing load may take; real ones fail in milliseconds (the first pays for JIT and libtorch).</summary>
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    /// <summary>Memory a failing load of a crafted file may take, far below what the crafted files declare (≥ 1 GiB).</summary>
    private const long MemoryBudget = 128L << 20;

    private readonly TempDir _temp = new();

    public void Dispose() => _temp.Dispose();

    // ---- 1. Truncated files -------------------------------------------------------------------------------------

    /// <summary>Cut points: (bytes, twentieths of the length) added together; (-1, 20) is one byte short.</summary>
    public static TheoryData<int, int> CutPoints()
    {
        var data = new TheoryData<int, int> { { 0, 0 }, { 7, 0 }, { 8, 0 }, { -1, 20 } };
        for (var i = 1; i < 20; i++) data.Add(0, i);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(CutPoints))]
    public void Load_TruncatedH5_ThrowsNamingFile(int bytes, int twentieths)
    {
        // Arrange
        var original = File.ReadAllBytes(Real(LegacyH5));
        var cut = bytes + original.Length * twentieths / 20;
        var path = _temp.File("cut.h5");
        File.WriteAllBytes(path, original[..cut]);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, cut == 0 ? "is empty" : "truncated");
    }

    [SkippableTheory]
    [InlineData(100)]
    [InlineData(3000)]
    [InlineData(8000)]
    [InlineData(16300)]
    public void Load_TruncatedKerasArchive_ThrowsNamingFile(int cut)
    {
        // Arrange: model.keras is 16,364 bytes; the cuts fall in metadata, config, weights and the central directory.
        var original = File.ReadAllBytes(Real(KerasArchive));
        var path = _temp.File("cut.keras");
        File.WriteAllBytes(path, original[..cut]);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, @"not a valid \.keras \(zip\) archive");
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(80000)]
    [InlineData(106295)]
    public void Load_TfjsWeightsShorterThanManifest_ThrowsNamingFileAndWeight(int shardLength)
    {
        // Arrange: the mlp manifest describes 106,296 bytes of float32 weights.
        var modelJson = CopyTfjsMlp();
        var shard = Path.Combine(Path.GetDirectoryName(modelJson)!, "weights.bin");
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..shardLength]);

        // Act
        var e = LoadFails(modelJson);

        // Assert: the first weight past the end of the shard is named.
        AssertNames(e, modelJson, "weight shards end before this weight");
        Assert.Matches("weight 'dense_Dense[1-4]/(kernel|bias)'", e.Message);
    }

    [SkippableFact]
    public void Load_TfjsMissingShard_ThrowsNamingShard()
    {
        // Arrange
        var modelJson = CopyTfjsMlp();
        File.Delete(Path.Combine(Path.GetDirectoryName(modelJson)!, "weights.bin"));

        // Act
        var e = LoadFails(modelJson);

        // Assert
        AssertNames(e, modelJson, "weight shard 'weights.bin' does not exist");
    }

    // ---- 2. Not a model at all ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("empty file", "is empty")]
    [InlineData("random bytes", "is not a Keras model")]
    [InlineData("first 5 bytes of the HDF5 signature", "truncated")]
    [InlineData("HDF5 signature then garbage", "superblock")]
    [InlineData("text that is not JSON", "is not a Keras model")]
    [InlineData("brace then garbage", "is not valid JSON")]
    [InlineData("JSON array", "is not a Keras model")]
    [InlineData("JSON object of something else", "neither a Keras architecture")]
    [InlineData("folder without model.json", "folder without a model.json")]
    [InlineData("empty folder", "folder without a model.json")]
    [InlineData("missing path", "does not exist")]
    public void Load_NotAModel_ThrowsNamingPath(string kind, string problem)
    {
        // Arrange
        var path = _temp.File("input");
        switch (kind)
        {
            case "empty file":
                File.WriteAllBytes(path, Array.Empty<byte>());
                break;
            case "random bytes":
                var random = new byte[4096];
                new Random(42).NextBytes(random);
                random[0] = 0; // neither '{', 'PK' nor the HDF5 signature
                File.WriteAllBytes(path, random);
                break;
            case "first 5 bytes of the HDF5 signature":
                File.WriteAllBytes(path, new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d });
                break;
            case "HDF5 signature then garbage":
                File.WriteAllBytes(path, new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a }.Concat(Enumerable.Repeat((byte)0xEE, 200)).ToArray());
                break;
            case "text that is not JSON":
                File.WriteAllText(path, "model = Sequential()\n");
                break;
            case "brace then garbage":
                File.WriteAllText(path, "{ this is not JSON");
                break;
            case "JSON array":
                File.WriteAllText(path, "[{\"class_name\": \"Sequential\", \"config\": []}]");
                break;
            case "JSON object of something else":
                File.WriteAllText(path, "{\"name\": \"not a model\", \"layers\": []}");
                break;
            case "folder without model.json":
                Directory.CreateDirectory(path);
                File.WriteAllText(Path.Combine(path, "weights.bin"), "x");
                File.WriteAllText(Path.Combine(path, "README"), "x");
                break;
            case "empty folder":
                Directory.CreateDirectory(path);
                break;
            case "missing path":
                break;
        }

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, problem);
    }

    // ---- 3. Corrupt archives and corrupt bytes ------------------------------------------------------------------

    [SkippableTheory]
    [InlineData("local header then garbage", @"not a valid \.keras \(zip\) archive")]
    [InlineData("garbage over config.json data", "config.json (is not valid JSON|is corrupt)")]
    [InlineData("no config.json", "without config.json")]
    [InlineData("config.json is not JSON", "config.json is not valid JSON")]
    [InlineData("config.json is a JSON list", "config.json is not a JSON object")]
    [InlineData("no model.weights.h5", "has no model.weights.h5")]
    [InlineData("model.weights.h5 is not HDF5", "model.weights.h5 is not an HDF5 file")]
    [InlineData("model.weights.h5 is truncated", "model.weights.h5 is truncated")]
    public void Load_CorruptKerasArchive_ThrowsNamingArchive(string kind, string problem)
    {
        // Arrange
        var original = Real(KerasArchive);
        var path = _temp.File("corrupt.keras");
        var entries = ReadEntries(original);
        switch (kind)
        {
            case "local header then garbage":
                {
                    var bytes = File.ReadAllBytes(original)[..64];
                    var garbage = new byte[4000];
                    new Random(7).NextBytes(garbage);
                    File.WriteAllBytes(path, bytes.Concat(garbage).ToArray());
                    break;
                }
            case "garbage over config.json data":
                {
                    // Same zip structure (sizes, CRCs); only the stored config.json bytes are overwritten.
                    var bytes = File.ReadAllBytes(original);
                    var at = IndexOf(bytes, entries["config.json"]);
                    Array.Fill(bytes, (byte)0xEE, at, 200);
                    File.WriteAllBytes(path, bytes);
                    break;
                }
            case "no config.json":
                entries.Remove("config.json");
                WriteZip(path, entries);
                break;
            case "config.json is not JSON":
                entries["config.json"] = Encoding.UTF8.GetBytes("{\"class_name\": \"Functional\", \"config\": ");
                WriteZip(path, entries);
                break;
            case "config.json is a JSON list":
                entries["config.json"] = Encoding.UTF8.GetBytes("[1, 2, 3]");
                WriteZip(path, entries);
                break;
            case "no model.weights.h5":
                entries.Remove("model.weights.h5");
                WriteZip(path, entries);
                break;
            case "model.weights.h5 is not HDF5":
                entries["model.weights.h5"] = Encoding.UTF8.GetBytes("these are not the weights you are looking for");
                WriteZip(path, entries);
                break;
            case "model.weights.h5 is truncated":
                entries["model.weights.h5"] = entries["model.weights.h5"][..5000];
                WriteZip(path, entries);
                break;
        }

        // Act
        var e = LoadFails(path);

        // Assert: the archive is named, never the temporary file its weights are extracted to.
        AssertNames(e, path, problem);
        Assert.DoesNotMatch(@"surgeon-[0-9a-f]{32}\.weights\.h5", e.Message);
    }

    /// <summary>Garbage patterns: all ones, all zeros, and a byte ramp.</summary>
    public static TheoryData<string, int, byte> CorruptionPoints()
    {
        var data = new TheoryData<string, int, byte>();
        foreach (var fixture in new[] { LegacyH5, KerasArchive })
        {
            for (var i = 0; i < 40; i++)
            {
                foreach (var pattern in new byte[] { 0xFF, 0x00, 0x5A }) data.Add(fixture, i, pattern);
            }
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(CorruptionPoints))]
    public void Load_FileWithCorruptBytes_LoadsOrThrowsKerasFormatException(string fixture, int fortieths, byte pattern)
    {
        // Arrange: same length (so the HDF5 end-of-file check passes), 64 bytes overwritten at one of 40 places.
        var bytes = File.ReadAllBytes(Real(fixture));
        var at = Math.Min(bytes.Length * fortieths / 40, bytes.Length - 64);
        for (var i = 0; i < 64; i++) bytes[at + i] = pattern == 0x5A ? (byte)(pattern * (i + 1)) : pattern;
        var path = _temp.File("corrupt" + Path.GetExtension(fixture));
        File.WriteAllBytes(path, bytes);

        // Act
        var thrown = LoadOutcome(path);

        // Assert: garbage in weight values cannot be detected, so loading may succeed; any failure must be ours.
        if (thrown is not null)
        {
            Assert.True(thrown is KerasFormatException, $"garbage at {at}: expected a KerasFormatException, got {thrown}");
            Assert.Contains($"'{path}'", thrown.Message);
        }
    }

    // ---- 4. Archive entries escaping the archive ----------------------------------------------------------------

    [SkippableTheory]
    [InlineData("../{0}")]
    [InlineData("assets/../../{0}")]
    [InlineData("..\\{0}")]
    [InlineData("/tmp/{0}")]
    [InlineData("\\tmp\\{0}")]
    [InlineData("C:/{0}")]
    public void Load_ArchiveEntryWithUnsafePath_IsRefusedAndWritesNothing(string entryPattern)
    {
        // Arrange: a valid model plus one hostile entry, whose file name is unique to this test.
        var victim = $"surgeon-evil-{Guid.NewGuid():N}.txt";
        var entryName = string.Format(entryPattern, victim);
        var folder = Path.Combine(_temp.Path, "models");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "evil.keras");
        var entries = ReadEntries(Real(KerasArchive));
        entries[entryName] = Encoding.UTF8.GetBytes("pwned");
        WriteZip(path, entries);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, "unsafe path");
        Assert.Contains(entryName, e.Message);
        foreach (var place in new[] { _temp.Path, folder, Path.GetTempPath(), "/tmp", Directory.GetCurrentDirectory() })
        {
            Assert.False(File.Exists(Path.Combine(place, victim)), $"{victim} was written to {place}");
        }
    }

    // ---- 5. Declared shapes that would need absurd memory -------------------------------------------------------

    [Theory]
    [InlineData(nameof(CraftedH5.KernelChunkedAbsurd), "absurd shape")]
    [InlineData(nameof(CraftedH5.KernelChunked1GiB), "declares 1,073,741,824 bytes")]
    [InlineData(nameof(CraftedH5.KernelContiguousAbsurd), "absurd shape")]
    [InlineData(nameof(CraftedH5.KernelContiguousBeyondFile), "declares 4,000,000 bytes .* but the file has only")]
    [InlineData(nameof(CraftedH5.KernelOverflowingShape), "absurd shape")]
    public void Load_H5DeclaringAbsurdShape_ThrowsWithoutAllocating(string crafted, string problem)
    {
        // Arrange
        var path = _temp.File(crafted + ".h5");
        File.WriteAllBytes(path, Crafted(crafted));
        Warm();

        // Act
        KerasFormatException? e = null;
        var (managed, peak) = MemoryProbe.Measure(() => e = LoadFails(path));

        // Assert
        AssertNames(e!, path, problem, layer: "dense");
        Assert.Contains("weight 'dense/kernel:0'", e!.Message);
        Assert.True(managed < MemoryBudget, $"allocated {managed:N0} managed bytes");
        Assert.True(peak is null || peak < MemoryBudget, $"peak resident memory grew by {peak:N0} bytes");
    }

    // ---- 6. Weights that disagree with the config ---------------------------------------------------------------

    [Fact]
    public void Load_H5KernelDisagreesWithUnits_ThrowsNamingLayerAndWeight()
    {
        // Arrange: Dense(units=5) storing a (4, 3) kernel.
        var path = _temp.File("mismatch.h5");
        File.WriteAllBytes(path, CraftedH5.DenseUnitsMismatch);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, @"has shape \[4, 3\] but the layer config implies \[\*, 5\]", layer: "dense");
        Assert.Contains("weight 'dense/kernel:0'", e.Message);
    }

    [Theory]
    [InlineData("d/kernel", "[3, 4]", @"'kernel' has shape \[3, 4\] but the layer config implies \[\*, 3\]")]
    [InlineData("d/bias", "[1, 3]", @"'bias' has shape \[1, 3\] but the layer config implies \[3\]")]
    public void Load_TfjsManifestShapeDisagreesWithConfig_ThrowsNamingLayer(string weight, string shape, string problem)
    {
        // Arrange: Dense(units=3) on 4 inputs; the manifest keeps the byte count but changes one weight's shape.
        var modelJson = WriteTfjs(TinyFunctional(), manifest =>
        {
            var spec = manifest.OfType<JsonObject>().First(w => (string?)w["name"] == weight);
            spec["shape"] = JsonNode.Parse(shape);
        });

        // Act
        var e = LoadFails(modelJson);

        // Assert
        AssertNames(e, modelJson, problem, layer: "d");
    }

    [SkippableFact]
    public void Load_ArchitectureWithWeightsOfAnotherModel_ThrowsNamingWeightsFile()
    {
        // Arrange: a Conv1D architecture with the weights of an LSTM model.
        var architecture = Real(Conv1dArchitecture);
        var weights = Real(WeightsOnlyH5);

        // Act
        var e = LoadFails(architecture, new LoadOptions { WeightsPath = weights });

        // Assert: the weights are matched by order (the names differ), so the first layer's kernel is at fault.
        AssertNames(e, weights, "has shape .* but the layer config implies", layer: "conv0");
    }

    // ---- 7. JSON missing required keys or of the wrong type -----------------------------------------------------

    [Theory]
    [InlineData("architecture")]
    [InlineData("tfjs")]
    public void Load_WellFormedTinyModel_Loads(string container)
    {
        // The baseline the JSON fault cases below start from must itself load.
        var path = container == "tfjs" ? WriteTfjs(TinyFunctional()) : WriteArchitecture(TinyFunctional());

        using var model = KerasFile.Load(path);

        Assert.Equal(new[] { "in", "d" }, model.Layers.Select(l => l.Name));
    }

    public static TheoryData<string, string, string, string?> JsonFaults()
    {
        var cases = new (string Fault, string Problem, string? Layer)[]
        {
            ("no class_name", "'class_name'", null),
            ("no config", "'config'", null),
            ("config is a string", "'config'", null),
            ("layers is a number", "'layers' is not a list", null),
            ("layer is a string", "layer #1 of model 'm' is not a JSON object", null),
            ("layer class_name is a number", "has no string 'class_name'", null),
            ("layer without config", "has no 'config' object", "d"),
            ("layer config is a string", "has no 'config' object", "d"),
            ("units is a string", "'units'", "d"),
            ("wrapped layer class_name is a number", "'class_name'", "d"),
            ("units is negative", "'units'", "d"),
            ("inbound_nodes is a number", "'inbound_nodes' is not a list", "d"),
            ("inbound node references a missing layer", "refer\\(s\\) to layer 'ghost'", "d"),
            ("tensor reference with wrong arity", "malformed tensor reference", "d"),
            ("no input_layers", "has no 'input_layers' list", null),
            ("output_layers is a string", "has no 'output_layers' list", null),
            ("output references a missing layer", "refer\\(s\\) to layer 'ghost'", null),
            ("duplicate layer names", "two layers of model 'm' are named 'in'", "in"),
        };
        var data = new TheoryData<string, string, string, string?>();
        foreach (var container in new[] { "architecture", "tfjs" })
        {
            foreach (var (fault, problem, layer) in cases) data.Add(container, fault, problem, layer);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(JsonFaults))]
    public void Load_JsonWithMissingKeyOrWrongType_ThrowsNamingFileAndLayer(string container, string fault, string problem, string? layer)
    {
        // Arrange
        var root = TinyFunctional();
        var config = root["config"]!.AsObject();
        var layers = config["layers"]!.AsArray();
        var dense = layers[1]!.AsObject();
        switch (fault)
        {
            case "no class_name": root.Remove("class_name"); break;
            case "no config": root.Remove("config"); break;
            case "config is a string": root["config"] = "oops"; break;
            case "layers is a number": config["layers"] = 5; break;
            case "layer is a string": layers[1] = "d"; break;
            case "layer class_name is a number": dense["class_name"] = 7; break;
            case "layer without config": dense.Remove("config"); break;
            case "layer config is a string": dense["config"] = "units=3"; break;
            case "units is a string": dense["config"]!["units"] = "three"; break;
            case "wrapped layer class_name is a number":
                dense["class_name"] = "TimeDistributed";
                dense["config"] = new JsonObject { ["name"] = "d", ["layer"] = new JsonObject { ["class_name"] = 5, ["config"] = dense["config"]!.DeepClone() } };
                break;
            case "units is negative": dense["config"]!["units"] = -3; break;
            case "inbound_nodes is a number": dense["inbound_nodes"] = 1; break;
            case "inbound node references a missing layer": dense["inbound_nodes"] = JsonNode.Parse("[[[\"ghost\", 0, 0, {}]]]"); break;
            case "tensor reference with wrong arity": dense["inbound_nodes"] = JsonNode.Parse("[[[\"in\", 0]]]"); break;
            case "no input_layers": config.Remove("input_layers"); break;
            case "output_layers is a string": config["output_layers"] = "d"; break;
            case "output references a missing layer": config["output_layers"] = JsonNode.Parse("[[\"ghost\", 0, 0]]"); break;
            case "duplicate layer names": layers.Add(layers[0]!.DeepClone()); break;
            default: throw new ArgumentException(fault);
        }
        var path = container == "tfjs" ? WriteTfjs(root) : WriteArchitecture(root);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, problem, layer);
    }

    [Theory]
    [InlineData("architecture")]
    [InlineData("tfjs")]
    public void Load_KerasVersionNotAString_IsIgnored(string container)
    {
        // Arrange: keras_version is informational; a value of the wrong type must not crash the reader.
        var root = TinyFunctional();
        root["keras_version"] = 2.4;
        root["backend"] = 7;
        var path = container == "tfjs" ? WriteTfjs(root) : WriteArchitecture(root);

        // Act
        using var model = KerasFile.Load(path);

        // Assert
        Assert.Equal(2, model.Layers.Count);
    }

    public static TheoryData<string, string> TfjsManifestFaults() => new()
    {
        { "manifest is an object", "'weightsManifest' is not a list" },
        { "group without paths", "lacks 'paths' or 'weights'" },
        { "shard path is a number", "weight shard path is not a string" },
        { "shard path leaves the folder", "points outside the model folder" },
        { "entry without name", "has no name" },
        { "name is a number", "name" },
        { "shape is a string", "shape" },
        { "shape holds a string", "shape" },
        { "shape holds a fraction", "shape" },
        { "negative dimension", "negative dimension" },
        { "shape overflows", "shape" },
        { "huge shape", "weight shards end before this weight" },
        { "unknown dtype", "unsupported weight dtype 'complex64'" },
        { "dtype is a number", "dtype" },
        { "quantization without scale", "quantization has no scale" },
        { "quantization scale is a string", "scale" },
        { "weight listed twice", "lists this weight twice" },
        { "shard longer than manifest", "weight shards hold 64 bytes but the manifest describes 60" },
        { "weight of no layer", "belong to no layer" },
    };

    [Theory]
    [MemberData(nameof(TfjsManifestFaults))]
    public void Load_TfjsManifestMissingKeyOrWrongType_ThrowsNamingFile(string fault, string problem)
    {
        // Arrange
        var shardLength = 60;
        var modelJson = WriteTfjs(TinyFunctional(), manifest =>
        {
            var group = manifest.Parent!.AsObject();
            var kernel = manifest[0]!.AsObject();
            switch (fault)
            {
                case "manifest is an object": group.Parent!.Parent!.AsObject()["weightsManifest"] = new JsonObject(); break;
                case "group without paths": group.Remove("paths"); break;
                case "shard path is a number": group["paths"] = JsonNode.Parse("[3]"); break;
                case "shard path leaves the folder": group["paths"] = JsonNode.Parse("[\"../../etc/passwd\"]"); break;
                case "entry without name": kernel.Remove("name"); break;
                case "name is a number": kernel["name"] = 12; break;
                case "shape is a string": kernel["shape"] = "4x3"; break;
                case "shape holds a string": kernel["shape"] = JsonNode.Parse("[4, \"3\"]"); break;
                case "shape holds a fraction": kernel["shape"] = JsonNode.Parse("[4, 2.5]"); break;
                case "negative dimension": kernel["shape"] = JsonNode.Parse("[-4, -3]"); break;
                case "shape overflows": kernel["shape"] = JsonNode.Parse("[1099511627776, 1099511627776]"); break;
                case "huge shape": kernel["shape"] = JsonNode.Parse("[1000000, 1000000]"); break;
                case "unknown dtype": kernel["dtype"] = "complex64"; break;
                case "dtype is a number": kernel["dtype"] = 32; break;
                case "quantization without scale": kernel["quantization"] = JsonNode.Parse("{\"dtype\": \"uint8\", \"min\": 0}"); break;
                case "quantization scale is a string": kernel["quantization"] = JsonNode.Parse("{\"dtype\": \"uint8\", \"min\": 0, \"scale\": \"big\"}"); break;
                case "weight listed twice": manifest.Add(manifest[1]!.DeepClone()); shardLength = 72; break;
                case "shard longer than manifest": shardLength = 64; break;
                case "weight of no layer": manifest.Add(JsonNode.Parse("{\"name\": \"ghost/kernel\", \"shape\": [1], \"dtype\": \"float32\"}")); shardLength = 64; break;
                default: throw new ArgumentException(fault);
            }
        }, shardLength: () => shardLength);

        // Act
        var e = LoadFails(modelJson);

        // Assert
        AssertNames(e, modelJson, problem);
    }

    // ---- 8. HDF5 files that are not full models -----------------------------------------------------------------

    [SkippableFact]
    public void Load_WeightsOnlyH5Alone_SaysToPassTheArchitecture()
    {
        // Arrange
        var path = Real(WeightsOnlyH5);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, "weights-only file .*architecture JSON .*WeightsPath");
    }

    [SkippableFact]
    public void Load_HdfDataFile_SaysItIsNotAModel()
    {
        // Arrange
        var path = Real(DataH5);

        // Act
        var e = LoadFails(path);

        // Assert
        AssertNames(e, path, "HDF5 data file, not a Keras model");
    }

    [SkippableFact]
    public void Load_ArchitectureWithNonHdf5Weights_ThrowsNamingWeightsFile()
    {
        // Arrange
        var weights = _temp.File("weights.h5");
        File.WriteAllText(weights, "{\"not\": \"weights\"}");

        // Act
        var e = LoadFails(Real(LstmArchitecture), new LoadOptions { WeightsPath = weights });

        // Assert
        AssertNames(e, weights, "is not an HDF5 weights file");
    }

    // ---- Saving never leaves a partial file ---------------------------------------------------------------------

    [Theory]
    [InlineData("model.h5")]
    [InlineData("model.keras")]
    public void Save_IntoMissingFolder_ThrowsAndCreatesNothing(string name)
    {
        // Arrange
        using var model = TinyModel(ScalarType.Float32);
        var folder = _temp.File("missing");
        var path = Path.Combine(folder, "sub", name);

        // Act
        var e = Assert.Throws<KerasFormatException>(() => KerasFile.Save(model, path));

        // Assert
        AssertNames(e, path, "its folder does not exist");
        Assert.False(Directory.Exists(folder));
    }

    [Theory]
    [InlineData("model.h5")]
    [InlineData("model.keras")]
    public void Save_OverAFolder_ThrowsAndLeavesNoTemporaryFile(string name)
    {
        // Arrange: the target path is an existing folder, so the final rename fails after the file is written.
        using var model = TinyModel(ScalarType.Float32);
        var path = _temp.File(name);
        Directory.CreateDirectory(path);

        // Act
        var e = Assert.Throws<KerasFormatException>(() => KerasFile.Save(model, path));

        // Assert
        AssertNames(e, path, "cannot be written");
        Assert.True(Directory.Exists(path));
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(_temp.Path));
    }

    [Theory]
    [InlineData("model.h5")]
    [InlineData("model.keras")]
    public void Save_WeightThatCannotBeWritten_KeepsExistingFileAndLeavesNoTemporaryFile(string name)
    {
        // Arrange: a Dense kernel of complex dtype (no HDF5 equivalent) over an existing file.
        using var model = TinyModel(ScalarType.ComplexFloat32);
        var path = _temp.File(name);
        File.WriteAllText(path, "previous content");

        // Act
        var e = Assert.Throws<KerasFormatException>(() => KerasFile.Save(model, path));

        // Assert
        AssertNames(e, path, "cannot be written", layer: null);
        Assert.Contains("ComplexFloat32", e.Message);
        Assert.Equal("previous content", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFileSystemEntries(_temp.Path));
    }

    // ---- Helpers ------------------------------------------------------------------------------------------------

    private static string Real(string relative)
    {
        SharedFixtures.Require(SharedFixtures.RealRoot);
        return Path.Combine(SharedFixtures.RealRoot, relative);
    }

    /// <summary>Loads <paramref name="path"/> on a worker and returns the exception, failing if it hangs, succeeds or throws another type.</summary>
    private static KerasFormatException LoadFails(string path, LoadOptions? options = null)
    {
        var thrown = LoadOutcome(path, options);
        Assert.True(thrown is not null, $"KerasFile.Load('{path}') succeeded on a bad file");
        Assert.True(thrown is KerasFormatException, $"expected a KerasFormatException, got {thrown}");
        return (KerasFormatException)thrown;
    }

    /// <summary>Loads <paramref name="path"/> on a worker; returns what it threw (null if it loaded), failing if it hangs.</summary>
    private static Exception? LoadOutcome(string path, LoadOptions? options = null)
    {
        var load = Task.Run(() =>
        {
            using var model = KerasFile.Load(path, options);
        });
        try
        {
            Assert.True(load.Wait(s_timeout), $"KerasFile.Load('{path}') did not return within {s_timeout.TotalSeconds} s");
            return null;
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            return e.InnerExceptions[0];
        }
    }

    private static void AssertNames(KerasFormatException e, string file, string problemPattern, string? layer = null)
    {
        Assert.True(e.Message.Contains($"'{file}'", StringComparison.Ordinal), $"the message does not name '{file}': {e.Message}");
        Assert.True(Regex.IsMatch(e.Message, problemPattern, RegexOptions.IgnoreCase), $"the message does not say /{problemPattern}/: {e.Message}");
        if (layer is not null) Assert.True(e.Message.Contains($"layer '{layer}'", StringComparison.Ordinal), $"the message does not name layer '{layer}': {e.Message}");
    }

    /// <summary>Loads a small valid model once so that JIT and libtorch start-up are not counted as a load's memory.</summary>
    private void Warm()
    {
        var path = _temp.File("warm.h5");
        File.WriteAllBytes(path, CraftedH5.DenseUnitsMismatch);
        LoadFails(path);
    }

    private static byte[] Crafted(string name) => name switch
    {
        nameof(CraftedH5.KernelChunkedAbsurd) => CraftedH5.KernelChunkedAbsurd,
        nameof(CraftedH5.KernelChunked1GiB) => CraftedH5.KernelChunked1GiB,
        nameof(CraftedH5.KernelContiguousAbsurd) => CraftedH5.KernelContiguousAbsurd,
        nameof(CraftedH5.KernelContiguousBeyondFile) => CraftedH5.KernelContiguousBeyondFile,
        nameof(CraftedH5.KernelOverflowingShape) => CraftedH5.KernelOverflowingShape,
        _ => throw new ArgumentException(name),
    };

    /// <summary>Copies the tfjs mlp model (model.json and weights.bin) into a fresh folder; returns the model.json path.</summary>
    private string CopyTfjsMlp()
    {
        var source = Real(TfjsMlp);
        var folder = Path.Combine(_temp.Path, "mlp");
        Directory.CreateDirectory(folder);
        foreach (var f in new[] { "model.json", "weights.bin" })
        {
            var target = Path.Combine(folder, f);
            File.Copy(Path.Combine(Path.GetDirectoryName(source)!, f), target);
            File.SetAttributes(target, FileAttributes.Normal);
        }
        return Path.Combine(folder, "model.json");
    }

    /// <summary>A Keras 2 functional model: Input(4) then Dense(3) named 'd', in model 'm'.</summary>
    private static JsonObject TinyFunctional() => JsonNode.Parse("""
        {
          "class_name": "Model",
          "config": {
            "name": "m",
            "layers": [
              {"name": "in", "class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "in"}, "inbound_nodes": []},
              {"name": "d", "class_name": "Dense", "config": {"name": "d", "units": 3, "activation": "linear", "use_bias": true}, "inbound_nodes": [[["in", 0, 0, {}]]]}
            ],
            "input_layers": [["in", 0, 0]],
            "output_layers": [["d", 0, 0]]
          },
          "keras_version": "2.4.0",
          "backend": "tensorflow"
        }
        """)!.AsObject();

    private string WriteArchitecture(JsonObject root)
    {
        var path = _temp.File("architecture.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    /// <summary>
    /// Writes <paramref name="topology"/> as a tfjs model.json whose manifest lists d/kernel [4, 3] and d/bias [3]
    /// (edited by <paramref name="editManifest"/>), with a weights.bin of 60 bytes (or <paramref name="shardLength"/>).
    /// </summary>
    private string WriteTfjs(JsonObject topology, Action<JsonArray>? editManifest = null, Func<int>? shardLength = null)
    {
        var folder = Path.Combine(_temp.Path, "tfjs");
        Directory.CreateDirectory(folder);
        var weights = JsonNode.Parse("""
            [{"name": "d/kernel", "shape": [4, 3], "dtype": "float32"}, {"name": "d/bias", "shape": [3], "dtype": "float32"}]
            """)!.AsArray();
        var doc = new JsonObject
        {
            ["format"] = "layers-model",
            ["generatedBy"] = "surgeon tests",
            ["modelTopology"] = topology,
            ["weightsManifest"] = new JsonArray(new JsonObject { ["paths"] = new JsonArray("weights.bin"), ["weights"] = weights }),
        };
        editManifest?.Invoke(weights);
        var path = Path.Combine(folder, "model.json");
        File.WriteAllText(path, doc.ToJsonString());
        File.WriteAllBytes(Path.Combine(folder, "weights.bin"), new byte[shardLength?.Invoke() ?? 60]);
        return path;
    }

    private static Dictionary<string, byte[]> ReadEntries(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        return zip.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var s = e.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        });
    }

    private static void WriteZip(string path, Dictionary<string, byte[]> entries)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(bytes);
        }
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        var at = haystack.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, "entry data not found in the archive");
        return at;
    }

    /// <summary><see cref="TinyFunctional"/> with zero weights, the kernel of <paramref name="kernelType"/>.</summary>
    private static KerasModel TinyModel(ScalarType kernelType) =>
        new ConfigParser(null, new ZeroWeights(kernelType))
            .Parse(TinyFunctional(), new ModelSource(null, ModelFormat.ArchitectureJson, "2.4.0", "tensorflow"));

    /// <summary>Gives layer 'd' a zero kernel of the given dtype (complex64 has no HDF5 equivalent) and a float32 bias.</summary>
    private sealed class ZeroWeights : IWeightSource
    {
        private readonly ScalarType _kernelType;

        public ZeroWeights(ScalarType kernelType) => _kernelType = kernelType;

        public LayerWeights Load(LayerSite site) => site.Name != "d"
            ? LayerWeights.None
            : new LayerWeights(
                new[]
                {
                    new KerasWeight("kernel", zeros(4, 3, _kernelType), true, null, null),
                    new KerasWeight("bias", zeros(3), true, null, null),
                },
                new Dictionary<string, string>());
    }
}
