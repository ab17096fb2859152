using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>TensorFlow.js weight manifests with quantized weights: value = q * scale + min, and IEEE half floats.</summary>
public sealed class TfjsQuantizationTests
{
    private static string ModelJson(string kernelQuantization, string biasQuantization) => $$$"""
        {"format": "layers-model", "generatedBy": "TensorFlow.js tfjs-layers v4.22.0", "convertedBy": null,
         "modelTopology": {"class_name": "Sequential", "keras_version": "tfjs-layers 4.22.0", "backend": "tensor_flow.js",
           "config": {"name": "q", "layers": [
             {"class_name": "Dense", "config": {"name": "dense", "units": 3, "use_bias": true, "batch_input_shape": [null, 2]}}]}},
         "weightsManifest": [{"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"], "weights": [
           {"name": "dense/kernel", "shape": [2, 3], "dtype": "float32", "quantization": {{{kernelQuantization}}}},
           {"name": "dense/bias", "shape": [3], "dtype": "float32", "quantization": {{{biasQuantization}}}}]}]}
        """;

    /// <summary>model.json plus its weights split over two shards at byte <paramref name="split"/>.</summary>
    private static void WriteModel(TempDir dir, string kernelQuantization, string biasQuantization, List<byte> bytes, int split)
    {
        File.WriteAllText(dir.File("model.json"), ModelJson(kernelQuantization, biasQuantization));
        File.WriteAllBytes(dir.File("group1-shard1of2.bin"), bytes.Take(split).ToArray());
        File.WriteAllBytes(dir.File("group1-shard2of2.bin"), bytes.Skip(split).ToArray());
    }

    /// <summary>Kernel q = 0..5 (uint8, scale 0.5, min -1) and bias halves 1.5, -2, 0.25, split mid-kernel.</summary>
    private static void WriteUint8AndHalfModel(TempDir dir)
    {
        var bytes = new List<byte> { 0, 1, 2, 3, 4, 5 };
        foreach (var h in new[] { (Half)1.5f, (Half)(-2f), (Half)0.25f }) bytes.AddRange(BitConverter.GetBytes(h));
        WriteModel(dir, """{"dtype": "uint8", "scale": 0.5, "min": -1.0, "original_dtype": "float32"}""", """{"dtype": "float16", "original_dtype": "float32"}""", bytes, split: 4);
    }

    [Fact]
    public void Load_Uint8KernelAndFloat16Bias_Dequantizes()
    {
        // Arrange: kernel q = 0..5 with scale 0.5, min -1; bias halves 1.5, -2, 0.25. Shards split mid-weight.
        using var dir = new TempDir();
        WriteUint8AndHalfModel(dir);

        // Act
        using var model = KerasFile.Load(dir.Path);

        // Assert
        var dense = model["dense"];
        Assert.Equal(new[] { -1f, -0.5f, 0f, 0.5f, 1f, 1.5f }, dense.FindWeight("kernel")!.Value.data<float>().ToArray());
        Assert.Equal(new long[] { 2, 3 }, dense.FindWeight("kernel")!.Shape);
        Assert.Equal(new[] { 1.5f, -2f, 0.25f }, dense.FindWeight("bias")!.Value.data<float>().ToArray());
        Assert.Equal(ModelFormat.TfjsLayers, model.Source.Format);
    }

    [Fact]
    public void Load_Uint16Kernel_Dequantizes()
    {
        using var dir = new TempDir();
        var bytes = new List<byte>();
        foreach (var q in new ushort[] { 0, 1000, 10000, 20000, 65535, 42, 7, 8, 9 }) bytes.AddRange(BitConverter.GetBytes(q));
        WriteModel(dir, """{"dtype": "uint16", "scale": 0.001, "min": -10.0}""", """{"dtype": "uint16", "scale": 1.0, "min": 0.0}""", bytes, split: 10);

        using var model = KerasFile.Load(dir.File("model.json"));

        var kernel = model["dense"].FindWeight("kernel")!.Value.data<float>().ToArray();
        var expected = new[] { 0, 1000, 10000, 20000, 65535, 42 }.Select(q => (float)(q * 0.001 + -10.0)).ToArray();
        Assert.Equal(expected, kernel);
        Assert.Equal(new[] { 7f, 8f, 9f }, model["dense"].FindWeight("bias")!.Value.data<float>().ToArray());
    }

    [Fact]
    public void Load_QuantizedModel_SavesAsFloat32H5()
    {
        using var dir = new TempDir();
        WriteUint8AndHalfModel(dir);
        using var model = KerasFile.Load(dir.Path);

        KerasFile.Save(model, dir.File("q.h5"));
        using var reloaded = KerasFile.Load(dir.File("q.h5"));

        ModelAssert.Identical(model, reloaded);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, reloaded["dense"].FindWeight("kernel")!.Value.dtype);
    }
}
