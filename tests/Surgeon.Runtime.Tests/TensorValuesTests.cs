using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests;

/// <summary>TensorValues.ToDoubles reads every dtype and layout in row-major order.</summary>
public sealed class TensorValuesTests
{
    [Fact]
    public void ToDoubles_ReadsFloat32InPlace_AndConvertsOtherTypesAndStridedViews()
    {
        using var floats = tensor(new float[] { 1.5f, -2, 3 });
        using var longs = tensor(new long[] { 7, 0, -1 });
        using var matrix = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        using var transposed = matrix.t(); // not contiguous: (3, 2) of 0 3 1 4 2 5

        Assert.Equal(new[] { 1.5, -2, 3 }, TensorValues.ToDoubles(floats));
        Assert.Equal(new[] { 7.0, 0, -1 }, TensorValues.ToDoubles(longs));
        Assert.Equal(new[] { 0.0, 3, 1, 4, 2, 5 }, TensorValues.ToDoubles(transposed));
    }
}
