using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>The HDF5 layout Surgeon writes matches what Keras (h5py 3) writes, checked with h5dump.</summary>
public sealed class LegacyH5LayoutTests
{
    private static string Chain(int layers, int nameLength)
    {
        var list = new JsonArray { new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, 2), ["name"] = "in" } } };
        for (var i = 0; i < layers; i++)
        {
            var name = $"d{i}_".PadRight(nameLength, 'x');
            list.Add(new JsonObject { ["class_name"] = "Dense", ["config"] = new JsonObject { ["name"] = name, ["units"] = 2 } });
        }
        return new JsonObject { ["class_name"] = "Sequential", ["config"] = new JsonObject { ["name"] = "chain", ["layers"] = list } }.ToJsonString();
    }

    [SkippableFact]
    public void Save_SmallModel_WritesKerasStringTypes()
    {
        using var model = KerasFile.CreateFromArchitecture(Chain(2, 8), seed: 3);
        using var dir = new TempDir();
        var path = dir.File("m.h5");

        KerasFile.Save(model, path);

        Assert.True(KerasH5StringsProbe.Exact, "PureHDF internals changed: string types fall back to PureHDF's defaults");
        var modelConfig = H5Dump.AssertReadable(path, "-H", "-A", "-a", "/model_config");
        Assert.Contains("STRSIZE H5T_VARIABLE", modelConfig);
        Assert.Contains("STRPAD H5T_STR_NULLTERM", modelConfig);
        Assert.Contains("CSET H5T_CSET_ASCII", modelConfig);
        var version = H5Dump.AssertReadable(path, "-H", "-A", "-a", "/keras_version");
        Assert.Contains("CSET H5T_CSET_UTF8", version);
        var names = H5Dump.AssertReadable(path, "-A", "-a", "/model_weights/layer_names");
        Assert.Contains("CSET H5T_CSET_ASCII", names);
        Assert.Contains("SIMPLE { ( 2 ) / ( 2 ) }", names);
        // A weightless layer's weight_names is an empty float64 array; here every Dense has two weights.
        var weightNames = H5Dump.AssertReadable(path, "-A", "-a", "/model_weights/d0_xxxxx/weight_names");
        Assert.Contains("\"d0_xxxxx/kernel\"", weightNames);
    }

    [SkippableFact]
    public void Save_NamesBeyondHeaderLimit_SplitsLikeKeras()
    {
        // 300 names of 250 bytes: 75,000 bytes as a fixed-width array > 64,512, so Keras splits into 2 chunks of 150.
        using var model = KerasFile.CreateFromArchitecture(Chain(300, 250), seed: 3);
        using var dir = new TempDir();
        var path = dir.File("m.h5");

        KerasFile.Save(model, path);
        using var reloaded = KerasFile.Load(path);

        var dump = H5Dump.AssertReadable(path, "-H", "-A", "-g", "/model_weights");
        Assert.DoesNotContain("ATTRIBUTE \"layer_names\"", dump);
        Assert.Contains("ATTRIBUTE \"layer_names0\"", dump);
        Assert.Contains("ATTRIBUTE \"layer_names1\"", dump);
        Assert.DoesNotContain("ATTRIBUTE \"layer_names2\"", dump);
        Assert.Contains("STRSIZE 250", dump);
        Assert.Contains("STRPAD H5T_STR_NULLPAD", dump);
        Assert.Contains("SIMPLE { ( 150 ) / ( 150 ) }", dump);
        ModelAssert.Identical(model, reloaded);
    }

    [Fact]
    public void PureHdfInternals_ByteOrderProbeIsAvailable()
    {
        // Big-endian datasets are refused by reading PureHDF's internal byte-order flag; if a PureHDF update removes
        // it, the reader silently assumes little-endian. This test makes that visible.
        Assert.True(Surgeon.IO.Hdf5Types.CanInspectByteOrder);
    }

    [Fact]
    public void Save_IntoMissingFolder_ThrowsNamingPathAndWritesNothing()
    {
        using var model = KerasFile.CreateFromArchitecture(Chain(1, 4), seed: 3);
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "missing", "m.h5");

        var e = Assert.Throws<KerasFormatException>(() => KerasFile.Save(model, path));

        Assert.Contains(path, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}

/// <summary>Exposes whether the exact string-type hook into PureHDF is active.</summary>
internal static class KerasH5StringsProbe
{
    public static bool Exact => Surgeon.IO.KerasH5Strings.Exact;
}
