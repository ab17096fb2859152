using System.IO.Compression;
using PureHDF;
using Surgeon.ArchitectureTool;
using Surgeon.Package.Tests.Infrastructure;

namespace Surgeon.Package.Tests;

/// <summary>
/// The build step's extractor (Surgeon.ArchitectureTool): the stored architecture verbatim with the Keras version
/// added, every failure a clear error naming the file, and the process's output in the form MSBuild reads as errors.
/// The same extractor feeds the generator tests on every real fixture (Surgeon.Generators.Tests' FixtureCatalog).
/// </summary>
public sealed class ArchitectureToolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "surgeon-tool-" + Guid.NewGuid().ToString("N")[..10]);

    public ArchitectureToolTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    private static string LeNet => Repo.Path("samples", "models", "lenet.h5");

    [Fact]
    public void LegacyH5_ModelConfigVerbatim_WithKerasVersionAppended()
    {
        using var h5 = H5File.OpenRead(LeNet);
        var config = h5.Attribute("model_config").Read<string>();
        var version = h5.Attribute("keras_version").Read<string>();

        var json = ArchitectureExtractor.Extract(LeNet);

        Assert.Equal(config[..^1] + ", \"keras_version\": \"" + version + "\"}", json);
    }

    [Fact]
    public void KerasArchive_ConfigJsonVerbatim_WithMetadataKerasVersionAppended()
    {
        using var model = KerasFile.Load(LeNet);
        var path = File("lenet.keras");
        KerasFile.Save(model, path);
        string config, metadata;
        using (var zip = ZipFile.OpenRead(path))
        {
            config = new StreamReader(zip.GetEntry("config.json")!.Open()).ReadToEnd();
            metadata = new StreamReader(zip.GetEntry("metadata.json")!.Open()).ReadToEnd();
        }
        var version = System.Text.Json.JsonDocument.Parse(metadata).RootElement.GetProperty("keras_version").GetString();

        var json = ArchitectureExtractor.Extract(path);

        Assert.Equal(config.TrimEnd()[..^1] + ", \"keras_version\": \"" + version + "\"}" + config[(config.TrimEnd().Length)..], json);
    }

    [Fact]
    public void ArchitectureJson_IsReturnedAsItIs()
    {
        var path = File("model.h5");   // the format is judged by content, not by extension
        var text = "\uFEFF {\"class_name\": \"Sequential\", \"config\": {\"layers\": []}}\n";
        System.IO.File.WriteAllText(path, text);

        Assert.Equal(text.TrimStart('\uFEFF'), ArchitectureExtractor.Extract(path));
    }

    [Theory]
    [InlineData("""{"a": 1}""", """{"a": 1, "keras_version": "2.4.0"}""")]
    [InlineData("""{}""", """{"keras_version": "2.4.0"}""")]
    [InlineData("{\"a\": 1\n}\n", "{\"a\": 1\n, \"keras_version\": \"2.4.0\"}\n")]
    [InlineData("""{"keras_version": "1.2.2", "a": 1}""", """{"keras_version": "1.2.2", "a": 1}""")]
    [InlineData("""{"config": {"keras_version": "x"}, "b": ["keras_version"]}""", """{"config": {"keras_version": "x"}, "b": ["keras_version"], "keras_version": "2.4.0"}""")]
    [InlineData("""{"a": "}\"{[", "b": NaN, "c": [-Infinity]}""", """{"a": "}\"{[", "b": NaN, "c": [-Infinity], "keras_version": "2.4.0"}""")]
    [InlineData("""{"a": [1, 2,}""", """{"a": [1, 2,}""")]
    [InlineData("""[1, 2]""", """[1, 2]""")]
    [InlineData("""{"a": "unterminated}""", """{"a": "unterminated}""")]
    public void KerasVersion_IsAppendedToTheTopLevelObjectOnly_WhenMissing(string json, string expected) =>
        Assert.Equal(expected, ArchitectureExtractor.WithKerasVersion(json, "2.4.0"));

    [Fact]
    public void KerasVersion_IsEscaped() =>
        Assert.Equal("{\"keras_version\": \"a\\\"b\\\\c\\u0001\"}", ArchitectureExtractor.WithKerasVersion("{}", "a\"b\\c\u0001"));

    [Fact]
    public void MissingFile_IsSRG100()
    {
        var e = Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(File("none.h5")));
        Assert.Equal("SRG100", e.Code);
        Assert.Equal("does not exist (it is listed as a SurgeonModel item of the project).", e.Message);
    }

    [Fact]
    public void TruncatedH5_IsSRG101_SayingSo()
    {
        var path = File("truncated.h5");
        System.IO.File.WriteAllBytes(path, System.IO.File.ReadAllBytes(LeNet)[..3000]);

        var e = Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(path));

        Assert.Equal("SRG101", e.Code);
        Assert.StartsWith("is truncated: its HDF5 header says ", e.Message);
        Assert.EndsWith(" bytes but the file has 3,000.", e.Message);
    }

    [Theory]
    [InlineData("", "is empty (0 bytes).")]
    [InlineData("not a model", "is not a Keras model file (neither HDF5, a .keras zip archive, nor an architecture JSON).")]
    [InlineData("\u0089HDF", "is truncated: it holds only 4 bytes of an HDF5 signature.")]
    public void NotAModel_IsSRG101(string content, string message)
    {
        var path = File("x.h5");
        System.IO.File.WriteAllText(path, content, System.Text.Encoding.Latin1);

        var e = Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(path));

        Assert.Equal("SRG101", e.Code);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void WeightsOnlyAndDataH5_AreSRG101_SayingWhatTheyAre()
    {
        var weights = File("weights.h5");
        var w = new H5File { Attributes = { ["layer_names"] = new[] { "dense" } } };
        w.Write(weights);
        var data = File("data.h5");
        new H5File { ["inputs"] = new[] { 1f, 2f } }.Write(data);

        var e1 = Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(weights));
        var e2 = Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(data));

        Assert.StartsWith("is a Keras weights-only file (no 'model_config' attribute)", e1.Message);
        Assert.Equal("is an HDF5 file without a 'model_config' attribute: it is not a Keras model saved with model.save().", e2.Message);
    }

    [Fact]
    public void ZipWithoutConfigOrWithBadMetadata_IsSRG101()
    {
        var noConfig = File("a.keras");
        using (var zip = ZipFile.Open(noConfig, ZipArchiveMode.Create)) zip.CreateEntry("metadata.json");
        var badMetadata = File("b.keras");
        using (var zip = ZipFile.Open(badMetadata, ZipArchiveMode.Create))
        {
            using (var w = new StreamWriter(zip.CreateEntry("config.json").Open())) w.Write("{}");
            using (var w = new StreamWriter(zip.CreateEntry("metadata.json").Open())) w.Write("{oops");
        }

        Assert.Equal("is a zip archive without a config.json entry: it is not a Keras 3 .keras model.",
            Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(noConfig)).Message);
        Assert.StartsWith("has a metadata.json that is not valid JSON",
            Assert.Throws<ExtractionException>(() => ArchitectureExtractor.Extract(badMetadata)).Message);
    }

    [Fact]
    public void Output_IsRewrittenOnlyWhenItsTextChanges()
    {
        var path = File(Path.Combine("sub", "m.architecture.json"));
        Assert.True(OutputFile.WriteIfChanged(path, "{\"a\": 1}"));
        var written = System.IO.File.GetLastWriteTimeUtc(path);
        System.IO.File.SetLastWriteTimeUtc(path, written.AddMinutes(-1));

        Assert.False(OutputFile.WriteIfChanged(path, "{\"a\": 1}"));
        Assert.Equal(written.AddMinutes(-1), System.IO.File.GetLastWriteTimeUtc(path));
        Assert.True(OutputFile.WriteIfChanged(path, "{\"a\": 2}"));
        Assert.Equal("{\"a\": 2}", System.IO.File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));   // no temporary file left behind
    }

    [Fact]
    public void Process_PrintsMsBuildErrorsNamingEachBadModel_AfterTryingEveryPair()
    {
        var tool = Repo.Path("src", "Surgeon.ArchitectureTool", "bin", Repo.Configuration, "net8.0", "Surgeon.ArchitectureTool.dll");
        var garbage = File("garbage.h5");
        System.IO.File.WriteAllText(garbage, "garbage");

        var result = Dotnet.Run(_dir, "exec", tool, File("missing.h5"), File("1.json"), garbage, File("2.json"), LeNet, File("3.json"));

        Assert.Equal(1, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(new[]
        {
            $"{File("missing.h5")}: error SRG100: Model file '{File("missing.h5")}' does not exist (it is listed as a SurgeonModel item of the project).",
            $"{garbage}: error SRG101: Model file '{garbage}' is not a Keras model file (neither HDF5, a .keras zip archive, nor an architecture JSON).",
            $"Surgeon: {LeNet} -> {File("3.json")} (written)",
        }, lines);
        Assert.Equal(ArchitectureExtractor.Extract(LeNet), System.IO.File.ReadAllText(File("3.json")));
        Assert.Equal(2, Dotnet.Run(_dir, "exec", tool, "only-one-argument").ExitCode);
    }
}
