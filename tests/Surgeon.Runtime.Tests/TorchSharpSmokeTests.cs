using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests;

/// <summary>
/// Proves that TorchSharp's native libraries load and run on this machine (CPU). On Debian 12 this
/// depends on build/Surgeon.TorchSharp.targets having patched libLibTorchSharp.so in the test output.
/// </summary>
public class TorchSharpSmokeTests
{
    [Fact]
    public void Conv2d_RunsOnCpu_AndMatchesHandComputedValues()
    {
        using var scope = torch.NewDisposeScope();

        // Input 1x1x4x4 holding 0..15 row by row, so in[r, c] = 4r + c:
        //    0  1  2  3
        //    4  5  6  7
        //    8  9 10 11
        //   12 13 14 15
        var input = torch.arange(16, dtype: ScalarType.Float32, device: torch.CPU).reshape(1, 1, 4, 4);
        // Kernel 1x1x2x2:
        //   1 2
        //   3 4
        var weight = torch.tensor(new float[] { 1, 2, 3, 4 }, device: torch.CPU).reshape(1, 1, 2, 2);

        var output = torch.nn.functional.conv2d(input, weight);

        Assert.Equal(DeviceType.CPU, output.device_type);
        Assert.Equal(new long[] { 1, 1, 3, 3 }, output.shape);

        // conv2d is a cross-correlation: out[i, j] = in[i, j] + 2 in[i, j+1] + 3 in[i+1, j] + 4 in[i+1, j+1].
        // out[0, 0] = 0*1 + 1*2 + 4*3 + 5*4 = 34
        // out[0, 1] = 1*1 + 2*2 + 5*3 + 6*4 = 44
        // out[1, 0] = 4*1 + 5*2 + 8*3 + 9*4 = 74
        // out[2, 2] = 10*1 + 11*2 + 14*3 + 15*4 = 134
        // and in general 40i + 10j + 34.
        float[] values = output.data<float>().ToArray();
        Assert.Equal(9, values.Length);
        Assert.Equal(34f, values[0]);
        Assert.Equal(44f, values[1]);
        Assert.Equal(74f, values[3]);
        Assert.Equal(134f, values[8]);
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                Assert.Equal(40f * i + 10f * j + 34f, values[3 * i + j]);
            }
        }
    }

    [Fact]
    public void Conv2d_WithBiasStrideAndPadding_MatchesHandComputedValues()
    {
        using var scope = torch.NewDisposeScope();

        var input = torch.arange(16, dtype: ScalarType.Float32).reshape(1, 1, 4, 4);
        var weight = torch.tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 1, 2, 2);
        var bias = torch.tensor(new float[] { 0.5f });

        // Padding 1 adds a ring of zeros (6x6); stride 2 then gives a 3x3 output whose windows start
        // at padded rows/columns 0, 2, 4, i.e. at input rows/columns -1, 1, 3.
        var output = torch.nn.functional.conv2d(input, weight, bias, strides: new long[] { 2, 2 }, padding: new long[] { 1, 1 });

        Assert.Equal(new long[] { 1, 1, 3, 3 }, output.shape);
        float[] values = output.data<float>().ToArray();
        // Top-left window covers in[-1..0, -1..0]: only in[0, 0] = 0 (kernel 4) is inside -> 0 + 0.5.
        Assert.Equal(0.5f, values[0]);
        // Centre window covers in[1..2, 1..2] = 5 6 / 9 10 -> 5*1 + 6*2 + 9*3 + 10*4 = 84 -> 84.5.
        Assert.Equal(84.5f, values[4]);
        // Bottom-right window covers in[3..4, 3..4]: only in[3, 3] = 15 (kernel 1) is inside -> 15.5.
        Assert.Equal(15.5f, values[8]);
    }

    [Fact]
    public void CudaIsAvailable_DoesNotThrow()
    {
        // On CPU-only machines this is simply false; the point is that asking does not throw.
        var exception = Record.Exception(() => torch.cuda.is_available());
        Assert.Null(exception);
    }
}
