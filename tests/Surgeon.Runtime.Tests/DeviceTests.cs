using Surgeon.Runtime.Tests.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests;

/// <summary>Weights follow the model's device; copies never share tensors with their source.</summary>
public sealed class DeviceTests
{
    private const string Json = """
        {"class_name": "Sequential", "config": {"name": "s", "layers": [
          {"class_name": "Dense", "config": {"name": "d", "units": 3, "batch_input_shape": [null, 4]}}]}}
        """;

    [Fact]
    public void To_Cpu_CopiesWeightsAndLeavesSourceUntouched()
    {
        using var model = KerasFile.CreateFromArchitecture(Json, seed: 5);
        var before = model["d"].FindWeight("kernel")!.Value.clone();

        using var copy = model.To(CPU);
        copy["d"].FindWeight("kernel")!.Value.add_(1);

        Assert.Equal(DeviceType.CPU, copy.Device.type);
        Assert.True(model["d"].FindWeight("kernel")!.Value.eq(before).all().item<bool>());
        using var same = KerasFile.CreateFromArchitecture(Json, seed: 5);
        Assert.Null(ModelComparison.FindDifference(model, same));
        before.Dispose();
    }

    [SkippableFact]
    public void LoadAndSave_OnCudaWhenAvailable_RoundTrips()
    {
        // CI has no GPU: this runs where TorchSharp-cuda and a device are present.
        Skip.IfNot(cuda.is_available(), "No CUDA device: the CUDA path is covered by review (weights copied to CPU before writing).");
        using var model = KerasFile.CreateFromArchitecture(Json, seed: 5);
        using var onGpu = model.To(CUDA);
        using var dir = new TempDir();

        KerasFile.Save(onGpu, dir.File("m.h5"));
        using var reloaded = KerasFile.Load(dir.File("m.h5"), new LoadOptions { Device = CUDA });

        Assert.Equal(DeviceType.CUDA, reloaded.Device.type);
        using var back = reloaded.To(CPU);
        Assert.Null(ModelComparison.FindDifference(model, back));
    }
}
