using System.Text.Json.Nodes;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>
/// Models big enough for the parallel read path (weights of 1 MB and more, 64 MB in all, read on several threads,
/// each with its own file handle) round-trip bit for bit in both formats.
/// </summary>
public sealed class LargeModelTests
{
    // 18 Dense(1024) layers: 18 kernels of 4 MB (+ biases) = 75.5 MB.
    private static string Json()
    {
        var layers = new JsonArray { new JsonObject { ["class_name"] = "InputLayer", ["config"] = new JsonObject { ["batch_input_shape"] = new JsonArray(null, 1024), ["name"] = "in" } } };
        for (var i = 0; i < 18; i++)
            layers.Add(new JsonObject { ["class_name"] = "Dense", ["config"] = new JsonObject { ["name"] = $"d{i}", ["units"] = 1024 } });
        return new JsonObject { ["class_name"] = "Sequential", ["config"] = new JsonObject { ["name"] = "big", ["layers"] = layers } }.ToJsonString();
    }

    [Theory]
    [InlineData("big.h5")]
    [InlineData("big.keras")]
    public void SaveLoad_75MBModel_IsBitIdentical(string name)
    {
        using var model = KerasFile.CreateFromArchitecture(Json(), seed: 11);
        using var dir = new TempDir();

        KerasFile.Save(model, dir.File(name));
        using var reloaded = KerasFile.Load(dir.File(name));

        Assert.Equal(18 * (1024 * 1024 + 1024), reloaded.ParameterCount);
        Assert.Null(ModelComparison.FindDifference(model, reloaded, name.EndsWith(".keras", StringComparison.Ordinal) ? ComparisonMode.Graph : ComparisonMode.Exact));
    }

    [Fact]
    public void Load_LargeModelCutInItsData_ThrowsNamingFile()
    {
        using var model = KerasFile.CreateFromArchitecture(Json(), seed: 11);
        using var dir = new TempDir();
        var path = dir.File("big.h5");
        KerasFile.Save(model, path);
        var cut = dir.File("cut.h5");
        using (var input = File.OpenRead(path))
        using (var output = File.Create(cut))
        {
            var buffer = new byte[input.Length / 2];
            input.ReadExactly(buffer);
            output.Write(buffer);
        }

        var e = Assert.Throws<KerasFormatException>(() => KerasFile.Load(cut));

        Assert.Contains(cut, e.Message);
        Assert.Contains("truncated", e.Message);
    }
}
