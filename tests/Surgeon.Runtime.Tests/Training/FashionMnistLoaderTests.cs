using System.Buffers.Binary;
using System.IO.Compression;
using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Training;

/// <summary>The IDX reader behind <see cref="FashionMnist"/>: shapes, scaling, subsets, and clear errors naming the file.</summary>
public sealed class FashionMnistLoaderTests
{
    private static byte[] Idx(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    private static void Write(string path, byte[] bytes, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, bytes);
            return;
        }
        using var file = File.Create(path);
        using var z = new GZipStream(file, CompressionLevel.Fastest);
        z.Write(bytes);
    }

    /// <summary>A Fashion-MNIST-shaped folder with <paramref name="n"/> 28x28 images (pixel i of image k = (k + i) mod 256).</summary>
    private static void WriteSet(string dir, string prefix, int n, bool gzip)
    {
        var pixels = new byte[n * 28 * 28];
        for (var i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i / 784 + i % 784);
        var labels = Enumerable.Range(0, n).Select(k => (byte)(k % 10)).ToArray();
        var ext = gzip ? ".gz" : "";
        Write(Path.Combine(dir, $"{prefix}-images-idx3-ubyte{ext}"), Idx(0x08, new[] { n, 28, 28 }, pixels), gzip);
        Write(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte{ext}"), Idx(0x08, new[] { n }, labels), gzip);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Load_ReadsImagesScaledToUnitRange_AndLabels(bool gzip)
    {
        using var dir = new TempDir();
        WriteSet(dir.Path, "train", 12, gzip);
        WriteSet(dir.Path, "t10k", 5, gzip);

        Assert.True(FashionMnist.IsAvailable(dir.Path));
        using var all = FashionMnist.Load(FashionMnistSplit.Train, directory: dir.Path);
        using var some = FashionMnist.Load(FashionMnistSplit.Train, count: 3, directory: dir.Path);
        using var test = FashionMnist.Load(FashionMnistSplit.Test, count: 100, directory: dir.Path);

        Assert.Equal(new long[] { 12, 28, 28, 1 }, all.Images.shape);
        Assert.Equal(ScalarType.Float32, all.Images.dtype);
        Assert.Equal(ScalarType.Int64, all.Labels.dtype);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1 }, all.Labels.data<long>().ToArray());
        Assert.Equal(3f / 255f, all.Images[3, 0, 0, 0].item<float>(), 6);
        Assert.Equal((3 + 30) / 255f, all.Images[3, 1, 2, 0].item<float>(), 6);
        Assert.Equal(3, some.Count);
        Assert.True(some.Images.equal(all.Images[..3]).all().item<bool>());
        Assert.Equal(5, test.Count);
        using var subset = all.Subset(4, 6);
        Assert.Equal(new long[] { 4, 5, 6, 7, 8, 9 }, subset.Labels.data<long>().ToArray());
        using var first = all.Take(100);
        Assert.Equal(12, first.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => all.Subset(10, 3));
    }

    [Fact]
    public void Load_MissingFile_NamesItAndThePackage()
    {
        using var dir = new TempDir();

        Assert.False(FashionMnist.IsAvailable(dir.Path));
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(FashionMnistSplit.Test, directory: dir.Path));

        Assert.Contains(Path.Combine(dir.Path, "t10k-images-idx3-ubyte.gz"), e.Message);
        Assert.Contains("dataset-fashion-mnist", e.Message);
    }

    [Fact]
    public void LoadFiles_CorruptFiles_ClearErrorsNamingTheFile()
    {
        using var dir = new TempDir();
        var labels = dir.File("labels");
        Write(labels, Idx(0x08, new[] { 2 }, new byte[] { 1, 2 }), gzip: false);

        string Fails(byte[] images, bool gzip = true)
        {
            var path = dir.File("images.gz");
            Write(path, images, gzip);
            var e = Assert.Throws<InvalidDataException>(() => FashionMnist.LoadFiles(path, labels));
            Assert.Contains(path, e.Message);
            return e.Message;
        }

        var good = Idx(0x08, new[] { 2, 28, 28 }, new byte[2 * 784]);
        var badMagic = (byte[])good.Clone();
        badMagic[0] = 0x12;
        Assert.Contains("magic", Fails(badMagic));
        Assert.Contains("element type 0x0d", Fails(Idx(0x0d, new[] { 2, 28, 28 }, new byte[2 * 784])));
        Assert.Contains("rank-1", Fails(Idx(0x08, new[] { 2 }, new byte[2])));
        Assert.Contains("truncated", Fails(good[..1000]));
        Assert.Contains("beyond", Fails(good.Concat(new byte[7]).ToArray()));
        Assert.Contains("outside", Fails(Idx(0x08, new[] { -5, 28, 28 }, Array.Empty<byte>())));
        Assert.Contains("3 images but", Fails(Idx(0x08, new[] { 3, 28, 28 }, new byte[3 * 784])));
        Assert.Contains("not a valid IDX file", Fails(new byte[] { 0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8 }, gzip: false));
    }

    [SkippableFact]
    public void Load_InstalledTestSplit_Has1000ImagesPerClass()
    {
        TrainingTestModels.RequireFashionMnist();

        using var test = FashionMnist.Load(FashionMnistSplit.Test);

        Assert.Equal(new long[] { 10000, 28, 28, 1 }, test.Images.shape);
        Assert.Equal(Enumerable.Repeat(1000L, 10), test.Labels.bincount(null, 0).data<long>().ToArray());
        Assert.InRange(test.Images.mean().item<float>(), 0.2f, 0.4f);
        Assert.Equal(1f, test.Images.max().item<float>());
    }
}
