using Surgeon.Cli;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>The <c>surgeon</c> command line, run in-process on string writers.</summary>
public sealed class CliTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [SkippableFact]
    public void Summary_TfjsFolder_PrintsKerasStyleTable()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");

        var (exit, output, error) = Run("summary", Path.GetDirectoryName(fixture.Path)!);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", error);
        Assert.Contains("Model: \"sequential_1\"", output);
        Assert.Contains("conv2d_Conv2D1 (Conv2D)", output);
        Assert.Contains("Total params: 34,622", output);
    }

    [SkippableFact]
    public void Summary_ArchitectureWithWeights_UsesWeightsOption()
    {
        var fixture = SharedFixtures.Model("real/kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json");

        var (exit, output, _) = Run("summary", fixture.Path, "--weights", fixture.WeightsPath!, "--json");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("\"total_parameters\": 222666", output);
    }

    [SkippableTheory]
    [InlineData("out.keras")]
    [InlineData("out.h5")]
    public void Convert_LegacyH5_WritesLoadableFile(string name)
    {
        var fixture = SharedFixtures.Model("real/dl4j-test-resources/src/main/resources/modelimport/keras/fullconfigs/cnn/cnn_batch_norm.h5");
        using var dir = new TempDir();
        var output = dir.File(name);

        var (exit, stdout, _) = Run("convert", fixture.Path, output);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("Wrote", stdout);
        using var original = KerasFile.Load(fixture.Path);
        using var converted = KerasFile.Load(output);
        // .keras holds the Keras 3 dialect, converted from this Keras 2 file: graph and weights must survive.
        var mode = name.EndsWith(".keras", StringComparison.Ordinal) ? ComparisonMode.Graph : ComparisonMode.Exact;
        Assert.Null(ModelComparison.FindDifference(original, converted, mode));
    }

    [SkippableFact]
    public void Predict_OracleLenet_WritesRecordedOutputAndLayerOutput()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        var dir = Path.GetDirectoryName(fixture.Path)!;
        using var temp = new TempDir();

        var model = Run("predict", dir, "--input", Path.Combine(dir, "input.npy"), "--output", temp.File("y.npy"));
        var layer = Run("predict", dir, "-i", Path.Combine(dir, "input.npy"), "-o", temp.File("dense.npy"), "--layer", "dense_Dense1");

        Assert.Equal(ExitCodes.Ok, model.Exit);
        Assert.Equal(ExitCodes.Ok, layer.Exit);
        using var expected = NpyFile.Read(Path.Combine(dir, "output.npy"));
        using var actual = NpyFile.Read(temp.File("y.npy"));
        Forward.RecordedOutputTests.AssertClose(expected, actual, "predict output");
        using var expectedLayer = NpyFile.Read(Path.Combine(dir, "layer_outputs", "05_dense_Dense1.npy"));
        using var actualLayer = NpyFile.Read(temp.File("dense.npy"));
        Forward.RecordedOutputTests.AssertClose(expectedLayer, actualLayer, "predict --layer");
    }

    [SkippableFact]
    public void Predict_WrongInputShape_ExitsBadInputNamingShapes()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        using var temp = new TempDir();
        using (var wrong = TorchSharp.torch.zeros(2, 5)) NpyFile.Write(temp.File("x.npy"), wrong);

        var (exit, _, error) = Run("predict", fixture.Path, "--input", temp.File("x.npy"), "--output", temp.File("y.npy"));

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("[2, 5]", error);
        Assert.Contains("(None, 28, 28, 1)", error);
        Assert.False(File.Exists(temp.File("y.npy")));
    }

    [SkippableFact]
    public void DeleteChannels_Verify_WritesPrunedModelAndReportsChanges()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        using var temp = new TempDir();

        var (exit, output, error) = Run("delete-channels", fixture.Path, "--layer", "conv2d_Conv2D1", "--channels", "1,4", "-o", temp.File("p.h5"), "--verify");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", error);
        Assert.Contains("Deleted 2 channel(s) of 'conv2d_Conv2D1': 1, 4.", output);
        Assert.Contains("Layers changed: conv2d_Conv2D1, conv2d_Conv2D2.", output);
        Assert.Contains("Parameters: 34,622 -> 33,770.", output);
        Assert.Contains("Verify: max abs difference", output);
        using var pruned = KerasFile.Load(temp.File("p.h5"));
        Assert.Equal(4, pruned["conv2d_Conv2D1"].Config.GetProperty("filters").GetInt32());
    }

    [Fact]
    public void DeleteChannels_OneCallOfASharedLayer_WithNegativeIndex()
    {
        const string json = """
            {"class_name": "Functional", "config": {"name": "shared", "layers": [
              {"class_name": "InputLayer", "name": "x1", "config": {"batch_input_shape": [null, 4], "name": "x1"}, "inbound_nodes": []},
              {"class_name": "InputLayer", "name": "x2", "config": {"batch_input_shape": [null, 4], "name": "x2"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "s", "config": {"name": "s", "units": 3}, "inbound_nodes": [[["x1", 0, 0, {}]], [["x2", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [[["s", 0, 0, {}]]]},
              {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 2}, "inbound_nodes": [[["s", 1, 0, {}]]]}],
              "input_layers": [["x1", 0, 0], ["x2", 0, 0]], "output_layers": [["a", 0, 0], ["b", 0, 0]]}}
            """;
        using var temp = new TempDir();
        using (var model = KerasFile.CreateFromArchitecture(json, seed: 1)) KerasFile.Save(model, temp.File("m.h5"));

        var (exit, output, error) = Run("delete-channels", temp.File("m.h5"), "--layer", "s", "--channels=-1", "--nodes", "1", "-o", temp.File("p.keras"));

        Assert.Equal("", error);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("Deleted 1 channel(s) of 's_delete_channels': 2.", output);
        using var pruned = KerasFile.Load(temp.File("p.keras"));
        Assert.Equal(2, pruned["s_delete_channels"].Config.GetProperty("units").GetInt32());
        Assert.Equal(3, pruned["s"].Config.GetProperty("units").GetInt32());
    }

    [SkippableFact]
    public void Apoz_PrintsEveryChannelAndTheSelection_AndSummaryHasMacs()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        var input = Path.Combine(SharedFixtures.OracleRoot, "lenet", "input.npy");

        var (exit, output, error) = Run("apoz", fixture.Path, "--input", input, "--layer", "conv2d_Conv2D1", "--method", "absolute", "--cutoff-absolute", "0.5");
        var (_, summary, _) = Run("summary", fixture.Path);

        Assert.Equal("", error);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("APoZ of 'conv2d_Conv2D1' at 'conv2d_Conv2D1'", output);
        Assert.Equal(6, output.Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+\d+\s+\d\.\d{4}")));
        Assert.Contains("high_apoz (absolute): ", output);
        Assert.Contains("MACs", summary);
        Assert.Contains("MACs per sample: 271,920", summary);
    }

    [SkippableFact]
    public void DeleteChannels_BadChannel_ExitsBadInputNamingLayer()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        using var temp = new TempDir();

        var (exit, _, error) = Run("delete-channels", fixture.Path, "--layer", "conv2d_Conv2D1", "--channels", "9", "-o", temp.File("p.h5"));

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("conv2d_Conv2D1", error);
        Assert.Contains("out of range", error);
        Assert.False(File.Exists(temp.File("p.h5")));
    }

    [Fact]
    public void Summary_MissingFile_ExitsBadInputWithOneLine()
    {
        var (exit, output, error) = Run("summary", "/no/such/model.h5");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Equal("error: '/no/such/model.h5': does not exist.", error.Trim());
    }

    [Fact]
    public void Summary_CorruptFileVerbose_PrintsStackTrace()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.h5");
        File.WriteAllBytes(path, new byte[] { 0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0 });

        var quiet = Run("summary", path);
        var verbose = Run("summary", path, "--verbose");

        Assert.Equal(ExitCodes.BadInput, quiet.Exit);
        Assert.Contains(path, quiet.Err);
        Assert.DoesNotContain("   at ", quiet.Err);
        Assert.Contains("   at ", verbose.Err);
    }

    [SkippableFact]
    public void InsertAndReplaceLayer_WriteModelsThatReload()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        var model = Path.GetDirectoryName(fixture.Path)!;
        using var dir = new TempDir();

        var insert = Run("insert-layer", model, "--after", "conv2d_Conv2D1", "--class", "Dropout", "--config", "{\"rate\": 0.3}", "-o", dir.File("i.keras"));
        var replace = Run("replace-layer", dir.File("i.keras"), "--layer", "dense_Dense1", "--class", "Dense", "--config", "{\"units\": 120, \"activation\": \"tanh\"}", "--name", "fresh", "-o", dir.File("r.h5"));

        Assert.Equal((ExitCodes.Ok, ""), (insert.Exit, insert.Err));
        Assert.Contains("Inserted Dropout after 'conv2d_Conv2D1': new layer 'dropout'", insert.Out);
        Assert.Equal((ExitCodes.Ok, ""), (replace.Exit, replace.Err));
        using var reloaded = KerasFile.Load(dir.File("r.h5"));
        Assert.NotNull(reloaded.FindLayer("dropout"));
        Assert.Equal("tanh", reloaded["fresh"].Config.GetProperty("activation").GetString());
        Assert.Null(reloaded.FindLayer("dense_Dense1"));
    }

    [SkippableFact]
    public void InsertLayer_BadArguments_ExitWithOneLineAndWriteNothing()
    {
        var fixture = SharedFixtures.Model("oracle/lenet");
        var model = Path.GetDirectoryName(fixture.Path)!;
        using var dir = new TempDir();

        var both = Run("insert-layer", model, "--after", "a", "--before", "b", "--class", "Dropout", "-o", dir.File("x.h5"));
        var badJson = Run("insert-layer", model, "--after", "conv2d_Conv2D1", "--class", "Dropout", "--config", "{rate", "-o", dir.File("x.h5"));
        var shape = Run("insert-layer", model, "--after", "conv2d_Conv2D1", "--class", "Dense", "--config", "{\"units\": 3}", "-o", dir.File("x.h5"));

        Assert.Equal(ExitCodes.Usage, both.Exit);
        Assert.Contains("exactly one of --before and --after", both.Err);
        Assert.Equal(ExitCodes.BadInput, badJson.Exit);
        Assert.Contains("--config is not valid JSON", badJson.Err);
        Assert.Equal(ExitCodes.BadInput, shape.Exit);
        Assert.Contains("'conv2d_Conv2D1'", shape.Err);
        Assert.False(File.Exists(dir.File("x.h5")));
    }

    [Fact]
    public void UnknownCommand_ExitsUsage()
    {
        var (exit, _, error) = Run("frobnicate");

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("frobnicate", error);
    }
}
