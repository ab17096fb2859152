using PureHDF;
using PureHDF.VOL.Native;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>
/// Reads of large weights postponed until the whole file has been checked and every tensor allocated, then run on
/// several threads, each with its own handle on the file (PureHDF's file objects are not thread-safe). Filling fresh
/// memory is bound by page faults and copies that scale with cores, so this cuts load time on big models.
/// </summary>
internal sealed class DeferredReads
{
    /// <summary>Datasets smaller than this are read at once: not worth a hand-off.</summary>
    public const long MinBytes = 1 << 20;

    private readonly List<(string Path, Tensor Tensor, string? Layer, string Weight)> _items = new();

    public void Add(string path, Tensor tensor, string? layer, string weight) => _items.Add((path, tensor, layer, weight));

    /// <summary>
    /// Reads every postponed dataset. <paramref name="openStream"/> opens a new readable, seekable stream over the HDF5
    /// bytes (disposed by the caller of each stream here); messages name <paramref name="file"/>.
    /// </summary>
    public void Execute(string file, Func<Stream> openStream)
    {
        if (_items.Count == 0) return;
        var total = _items.Sum(i => i.Tensor.numel() * i.Tensor.element_size());
        var workers = total < 64L << 20 ? 1 : Math.Clamp(Environment.ProcessorCount, 1, 4);
        // Largest first onto the least-loaded worker: balanced by bytes.
        var groups = Enumerable.Range(0, workers).Select(_ => new List<(string Path, Tensor Tensor, string? Layer, string Weight)>()).ToArray();
        var loads = new long[workers];
        foreach (var item in _items.OrderByDescending(i => i.Tensor.numel() * i.Tensor.element_size()))
        {
            var w = Array.IndexOf(loads, loads.Min());
            groups[w].Add(item);
            loads[w] += item.Tensor.numel() * item.Tensor.element_size();
        }
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Parallel.ForEach(groups, new ParallelOptions { MaxDegreeOfParallelism = workers }, group =>
        {
            try
            {
                using var stream = openStream();
                using var h5 = H5File.Open(stream, leaveOpen: true);
                foreach (var (path, tensor, layer, weight) in group)
                {
                    Hdf5Read.Guard(file, layer, weight, "weight data", () =>
                    {
                        ((NativeDataset)h5.Dataset(path)).Read<byte>(tensor.bytes);
                        return 0;
                    });
                }
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        });
        if (!errors.IsEmpty)
        {
            var first = errors.FirstOrDefault(e => e is KerasFormatException) ?? errors.First();
            if (first is KerasFormatException) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            throw new KerasFormatException(file, $"cannot read weight data: {first.Message}", inner: first);
        }
    }
}
