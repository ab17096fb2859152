using System.Buffers.Binary;
using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace Surgeon;

/// <summary>Which part of Fashion-MNIST to load.</summary>
public enum FashionMnistSplit
{
    /// <summary>The 60,000 training images (<c>train-*</c> files).</summary>
    Train,
    /// <summary>The 10,000 test images (<c>t10k-*</c> files).</summary>
    Test,
}

/// <summary>
/// Images with class labels, as tensors: <see cref="Images"/> (N, H, W, 1) float32 in [0, 1] (Keras's channels_last
/// layout) and <see cref="Labels"/> (N) int64. Owns both; dispose it.
/// </summary>
public sealed class LabeledImages : IDisposable
{
    internal LabeledImages(Tensor images, Tensor labels)
    {
        images.DetachFromDisposeScope();
        labels.DetachFromDisposeScope();
        Images = images;
        Labels = labels;
    }

    /// <summary>(N, H, W, 1) float32 pixels scaled to [0, 1].</summary>
    public Tensor Images { get; }

    /// <summary>(N) int64 class indices.</summary>
    public Tensor Labels { get; }

    /// <summary>Number of images.</summary>
    public long Count => Labels.shape[0];

    /// <summary>Images <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> - 1, as new tensors.</summary>
    public LabeledImages Subset(long start, long count)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Images {start} to {start + count} are outside 0 to {Count}.");
        using var scope = NewDisposeScope();
        return new LabeledImages(Images.narrow(0, start, count).clone().MoveToOuterDisposeScope(), Labels.narrow(0, start, count).clone().MoveToOuterDisposeScope());
    }

    /// <summary>The first <paramref name="count"/> images (all of them if there are fewer), as new tensors.</summary>
    public LabeledImages Take(long count) => Subset(0, Math.Min(Math.Max(count, 0), Count));

    /// <summary>A copy on <paramref name="device"/> (e.g. the model's, to avoid a copy per batch).</summary>
    public LabeledImages To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        using var scope = NewDisposeScope();
        return new LabeledImages(Images.to(device, copy: true).MoveToOuterDisposeScope(), Labels.to(device, copy: true).MoveToOuterDisposeScope());
    }

    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

/// <summary>
/// Zalando's Fashion-MNIST (28x28 grey images of 10 clothing classes) from its IDX files, gzip-compressed or not.
/// On Debian, <c>apt-get install dataset-fashion-mnist</c> puts them in <see cref="DebianDirectory"/>; the
/// <c>SURGEON_FASHION_MNIST</c> environment variable points elsewhere. <see cref="LoadFiles"/> reads any IDX image and
/// label pair (MNIST has the same format).
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable naming another folder holding the four files.</summary>
    public const string DirectoryVariable = "SURGEON_FASHION_MNIST";

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>The folder searched by default: <c>$SURGEON_FASHION_MNIST</c> if set, else <see cref="DebianDirectory"/>.</summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } dir ? dir : DebianDirectory;

    /// <summary>Whether the four files are in <paramref name="directory"/> (default: <see cref="DefaultDirectory"/>).</summary>
    public static bool IsAvailable(string? directory = null)
    {
        var dir = directory ?? DefaultDirectory;
        return new[] { FashionMnistSplit.Train, FashionMnistSplit.Test }.All(s => Find(dir, Stem(s, images: true)) is not null && Find(dir, Stem(s, images: false)) is not null);
    }

    /// <summary>
    /// Loads a split: the first <paramref name="count"/> images (all when null; only those are decompressed), from
    /// <paramref name="directory"/> (default: <see cref="DefaultDirectory"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message names it and how to install the data.</exception>
    /// <exception cref="InvalidDataException">A file is not a valid IDX file of the expected shape; the message names it.</exception>
    public static LabeledImages Load(FashionMnistSplit split, int? count = null, string? directory = null)
    {
        var dir = directory ?? DefaultDirectory;
        var images = Require(dir, Stem(split, images: true));
        var labels = Require(dir, Stem(split, images: false));
        var result = LoadFiles(images, labels, count);
        try
        {
            if (result.Images.shape[1] != 28 || result.Images.shape[2] != 28)
                throw new InvalidDataException($"'{images}' holds {result.Images.shape[1]}x{result.Images.shape[2]} images; Fashion-MNIST's are 28x28.");
            if (result.Count > 0 && result.Labels.max().item<long>() >= ClassNames.Count)
                throw new InvalidDataException($"'{labels}' holds a label above {ClassNames.Count - 1}; Fashion-MNIST has {ClassNames.Count} classes.");
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads an IDX image file (unsigned bytes, N x H x W) and its IDX label file (unsigned bytes, N), each gzip-compressed
    /// or not (judged from the content): the first <paramref name="count"/> items, or all.
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">Bad magic number, element type or rank, truncated data, or image and label counts that differ.</exception>
    public static LabeledImages LoadFiles(string imagesPath, string labelsPath, int? count = null)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The count must not be negative.");
        var (imageDims, pixels) = Idx.Read(imagesPath, 3, count);
        var (labelDims, labelBytes) = Idx.Read(labelsPath, 1, count);
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"'{imagesPath}' holds {imageDims[0]} images but '{labelsPath}' holds {labelDims[0]} labels.");
        var n = Math.Min(imageDims[0], count ?? int.MaxValue);
        using var scope = NewDisposeScope();
        var images = tensor(pixels, new long[] { n, imageDims[1], imageDims[2], 1 }, dtype: ScalarType.Byte).to_type(ScalarType.Float32).div_(255f);
        var labels = tensor(labelBytes, new long[] { n }, dtype: ScalarType.Byte).to_type(ScalarType.Int64);
        return new LabeledImages(images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    private static string Stem(FashionMnistSplit split, bool images) =>
        (split == FashionMnistSplit.Train ? "train" : "t10k") + (images ? "-images-idx3-ubyte" : "-labels-idx1-ubyte");

    private static string? Find(string dir, string stem) =>
        new[] { stem + ".gz", stem }.Select(f => Path.Combine(dir, f)).FirstOrDefault(File.Exists);

    private static string Require(string dir, string stem) => Find(dir, stem) ?? throw new FileNotFoundException(
        $"Fashion-MNIST file '{Path.Combine(dir, stem + ".gz")}' not found. Install the Debian package dataset-fashion-mnist " +
        $"(sudo apt-get install dataset-fashion-mnist), or set {DirectoryVariable} to a folder holding the four IDX files.",
        Path.Combine(dir, stem + ".gz"));

    /// <summary>The IDX format: 0, 0, element type (0x08 unsigned byte), rank; big-endian int32 dimensions; data.</summary>
    private static class Idx
    {
        private const int MaxItems = 100_000_000;
        private const int MaxSide = 65_536;

        public static (int[] Dims, byte[] Data) Read(string path, int rank, int? count)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' not found.", path);
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> sniff = stackalloc byte[2];
            var gzip = file.Read(sniff) == 2 && sniff[0] == 0x1f && sniff[1] == 0x8b;
            file.Position = 0;
            using var stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
            try
            {
                return ReadFrom(stream, path, rank, count);
            }
            catch (InvalidDataException e) when (!e.Message.Contains(path, StringComparison.Ordinal))
            {
                // A corrupt gzip stream.
                throw new InvalidDataException($"'{path}' is not a valid IDX file: {e.Message}", e);
            }
        }

        private static (int[] Dims, byte[] Data) ReadFrom(Stream stream, string path, int rank, int? count)
        {
            var header = new byte[4 + 4 * rank];
            var got = ReadFully(stream, header);
            if (got < 4) throw new InvalidDataException($"'{path}' is not a valid IDX file: it is {got} bytes long.");
            if (header[0] != 0 || header[1] != 0)
                throw new InvalidDataException($"'{path}' is not a valid IDX file: bad magic number 0x{header[0]:x2}{header[1]:x2}{header[2]:x2}{header[3]:x2}.");
            if (header[2] != 0x08)
                throw new InvalidDataException($"'{path}' holds IDX element type 0x{header[2]:x2}; expected 0x08 (unsigned byte).");
            if (header[3] != rank)
                throw new InvalidDataException($"'{path}' holds a rank-{header[3]} IDX array; expected rank {rank}.");
            if (got < header.Length) throw new InvalidDataException($"'{path}' is truncated inside its IDX header.");
            var dims = new int[rank];
            for (var i = 0; i < rank; i++)
            {
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 + 4 * i));
                var limit = i == 0 ? MaxItems : MaxSide;
                if (dims[i] < 0 || dims[i] > limit)
                    throw new InvalidDataException($"'{path}' declares dimension {i} as {dims[i]}, outside 0 to {limit}.");
            }
            var items = Math.Min(dims[0], count ?? int.MaxValue);
            var itemSize = dims.Skip(1).Aggregate(1L, (a, d) => a * d);
            var total = items * itemSize;
            if (total > Array.MaxLength) throw new InvalidDataException($"'{path}' declares {total} bytes of data, more than one array can hold.");
            var data = new byte[total];
            var read = ReadFully(stream, data);
            if (read < total)
                throw new InvalidDataException($"'{path}' is truncated: {items} items of {itemSize} bytes need {total} bytes of data, found {read}.");
            if (items == dims[0] && stream.ReadByte() != -1)
                throw new InvalidDataException($"'{path}' has data beyond the {dims[0]} items its header declares.");
            return (dims, data);
        }

        private static int ReadFully(Stream s, Span<byte> buffer)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var n = s.Read(buffer[total..]);
                if (n == 0) break;
                total += n;
            }
            return total;
        }
    }
}
