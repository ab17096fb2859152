using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using PureHDF;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>
/// Reads a Keras 3 <c>.keras</c> archive: <c>config.json</c>, <c>metadata.json</c> and <c>model.weights.h5</c>,
/// whose variables are keyed by layer path (<c>layers/dense_1/vars/0</c>), not by layer name.
/// </summary>
internal static class KerasArchiveReader
{
    private const long MaxJsonBytes = 256L << 20;

    public static KerasModel Read(string file)
    {
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(file);
        }
        catch (InvalidDataException e)
        {
            throw new KerasFormatException(file, $"is not a valid .keras (zip) archive: {e.Message}", inner: e);
        }
        using (zip)
        {
            var entries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            IReadOnlyCollection<ZipArchiveEntry> all;
            try
            {
                all = zip.Entries;
            }
            catch (InvalidDataException e)
            {
                throw new KerasFormatException(file, $"is not a valid .keras (zip) archive: {e.Message}", inner: e);
            }
            foreach (var entry in all)
            {
                var name = entry.FullName;
                if (name.StartsWith('/') || name.StartsWith('\\') || name.Split('/', '\\').Contains("..") || name.Contains(':'))
                    throw new KerasFormatException(file, $"archive entry '{name}' has an unsafe path (absolute or with '..'); refusing to read the archive.");
                entries[name] = entry;
            }
            if (entries.Keys.Any(k => k.StartsWith("assets/", StringComparison.Ordinal) && !k.EndsWith('/')))
                throw new KerasFormatException(file, "has an assets/ folder (lookup tables or vocabularies); layers with assets are not supported.");
            var configText = ReadText(file, entries, "config.json", required: true)!;
            var metadataText = ReadText(file, entries, "metadata.json", required: false);
            var root = ConfigParser.ParseObject(configText, file, "config.json");
            string? version = null;
            if (metadataText is not null)
            {
                var metadata = ConfigParser.ParseObject(metadataText, file, "metadata.json");
                version = metadata["keras_version"] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
            }
            var source = new ModelSource(file, ModelFormat.KerasArchive, version, null);
            if (!entries.TryGetValue("model.weights.h5", out var weightsEntry))
            {
                if (entries.ContainsKey("model.weights.npz"))
                    throw new KerasFormatException(file, "stores weights as model.weights.npz; only the default HDF5 weights format is supported.");
                throw new KerasFormatException(file, "has no model.weights.h5 entry.");
            }
            // Keras stores the weights uncompressed: read them in place. A deflated entry is extracted first.
            using var raw = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var location = Guarded(file, () => StoredZip.Locate(raw, "model.weights.h5"));
            string? temp = null;
            try
            {
                Stream weights;
                DeferredReads? deferred = null;
                Func<Stream>? reopen = null;
                if (location is { } at && at.Size == weightsEntry.Length)
                {
                    weights = new SubStream(raw, at.DataOffset, at.Size, writable: false);
                    deferred = new DeferredReads();
                    reopen = () => new SubStream(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), at.DataOffset, at.Size, writable: false, ownsBase: true);
                }
                else
                {
                    temp = Path.Combine(Path.GetTempPath(), $"surgeon-{Guid.NewGuid():N}.weights.h5");
                    Extract(file, weightsEntry, temp);
                    weights = new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.DeleteOnClose);
                }
                using var weightsStream = weights;
                using var h5 = OpenWeights(file, weights);
                var store = new ArchiveWeightSource(file, weights.Length, h5, deferred);
                KerasModel? model = null;
                try
                {
                    model = new ConfigParser(file, store).Parse(root, source);
                    var extras = store.ReadUnclaimed();
                    model.ExtraWeights = extras;
                    model.ArchiveGroupNames = store.UnclaimedGroupNames();
                    if (reopen is not null) deferred!.Execute(file, reopen);
                    return model;
                }
                catch
                {
                    if (model is not null) model.Dispose();
                    else store.DisposeAll();
                    throw;
                }
            }
            finally
            {
                if (temp is not null && File.Exists(temp))
                {
                    try { File.Delete(temp); } catch (IOException) { }
                }
            }
        }
    }

    private static T Guarded<T>(string file, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is IOException or ArgumentException or OverflowException)
        {
            throw new KerasFormatException(file, $"is not a valid .keras (zip) archive: {e.Message}", inner: e);
        }
    }

    private static string? ReadText(string file, Dictionary<string, ZipArchiveEntry> entries, string name, bool required)
    {
        if (!entries.TryGetValue(name, out var entry))
        {
            return required ? throw new KerasFormatException(file, $"is a zip archive without {name}; it is not a .keras model.") : null;
        }
        if (entry.Length > MaxJsonBytes)
            throw new KerasFormatException(file, $"{name} declares {entry.Length:N0} bytes, more than any model config needs.");
        try
        {
            using var stream = entry.Open();
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (InvalidDataException e)
        {
            throw new KerasFormatException(file, $"archive entry {name} is corrupt: {e.Message}", inner: e);
        }
    }

    /// <summary>Opens the weights entry; a failure names the archive and its entry.</summary>
    private static PureHDF.VOL.Native.NativeFile OpenWeights(string file, Stream weights)
    {
        const string entry = "model.weights.h5";
        try
        {
            return Hdf5Read.Open(weights, entry);
        }
        catch (KerasFormatException e) when (e.FilePath == entry)
        {
            throw new KerasFormatException(file, $"model.weights.h5 {e.Problem}", e.LayerName, e.WeightName, e);
        }
    }

    private static void Extract(string file, ZipArchiveEntry entry, string target)
    {
        var archiveLength = new FileInfo(file).Length;
        // Keras stores entries uncompressed; allow deflate but refuse a declared size no real archive of this size holds.
        if (entry.Length > Math.Max(archiveLength * 64, 64L << 20))
            throw new KerasFormatException(file, $"model.weights.h5 declares {entry.Length:N0} bytes in an archive of {archiveLength:N0}: refusing it as corrupt or a zip bomb.");
        try
        {
            using var input = entry.Open();
            using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            input.CopyTo(output, 1 << 20);
            if (output.Length != entry.Length)
                throw new KerasFormatException(file, $"model.weights.h5 is truncated ({output.Length:N0} of {entry.Length:N0} bytes).");
        }
        catch (InvalidDataException e)
        {
            throw new KerasFormatException(file, $"archive entry model.weights.h5 is corrupt: {e.Message}", inner: e);
        }
    }

    /// <summary>
    /// Takes every dataset under a layer's group: first its own <c>vars/0..n</c>, then sub-layers in Keras's
    /// order (forward before backward for Bidirectional; otherwise by name).
    /// </summary>
    private sealed class ArchiveWeightSource : IWeightSource
    {
        private readonly string _file;
        private readonly NativeFileWrapper _h5;
        private readonly long _length;
        private readonly HashSet<string> _claimed = new(StringComparer.Ordinal);
        private readonly List<Tensor> _all = new();

        private readonly DeferredReads? _deferred;

        public ArchiveWeightSource(string file, long weightsLength, PureHDF.VOL.Native.NativeFile h5, DeferredReads? deferred)
        {
            _deferred = deferred;
            _file = file;
            _h5 = new NativeFileWrapper(h5);
            _length = weightsLength;
        }

        public LayerWeights Load(LayerSite site)
        {
            if (site.ArchivePath.Length == 0 || !Hdf5Read.Guard(_file, site.Name, null, $"group '{site.ArchivePath}'", () => _h5.Exists(site.ArchivePath)))
            {
                var expected = LayerCatalog.VariableNames(site.ClassName, site.Config);
                if (expected is { Length: > 0 })
                    throw new KerasFormatException(_file, $"model.weights.h5 has no group '{site.ArchivePath}' for this {site.ClassName} layer.", site.Name);
                return LayerWeights.None;
            }
            var group = Hdf5Read.Guard(_file, site.Name, null, "layer group", () => _h5.File.Group(site.ArchivePath));
            var found = new List<(string Path, IH5Dataset Dataset)>();
            var groupNames = new Dictionary<string, string>(StringComparer.Ordinal);
            Collect(site, group, "", found, groupNames);
            _claimed.Add(site.ArchivePath);
            var names = LayerCatalog.VariableNames(site.ClassName, site.Config);
            if (names is not null && names.Length != found.Count)
                throw new KerasFormatException(_file, $"model.weights.h5 holds {found.Count} variables under '{site.ArchivePath}' but a {site.ClassName} with this config has {names.Length} ({string.Join(", ", names)}).", site.Name);
            var weights = new List<KerasWeight>();
            for (var i = 0; i < found.Count; i++)
            {
                var (path, ds) = found[i];
                var name = names?[i] ?? path.Replace("/vars/", "/").Replace("vars/", "var_");
                var tensor = Hdf5Read.ReadTensor(_file, ds, site.Name, path, _length, _deferred, $"{site.ArchivePath}/{path}");
                _all.Add(tensor);
                weights.Add(new KerasWeight(name, tensor, LayerCatalog.IsTrainableVariable(site.ClassName, name), null, path));
            }
            WeightShapes.Check(_file, site, weights);
            return new LayerWeights(weights, groupNames);
        }

        private void Collect(LayerSite site, IH5Group group, string prefix, List<(string, IH5Dataset)> found, Dictionary<string, string> groupNames)
        {
            var children = Hdf5Read.Guard(_file, site.Name, null, "group listing", () => group.Children().ToList());
            if (Hdf5Read.StringAttribute(_file, group, "name", site.Name) is { } own) groupNames[prefix] = own;
            var datasets = children.OfType<IH5Dataset>().OrderBy(d => int.TryParse(d.Name, out var n) ? n : int.MaxValue).ThenBy(d => d.Name, StringComparer.Ordinal);
            foreach (var d in datasets) found.Add((prefix + d.Name, d));
            var groups = children.OfType<IH5Group>().OrderBy(g => GroupRank(site.ClassName, g.Name)).ThenBy(g => g.Name, StringComparer.Ordinal);
            foreach (var g in groups) Collect(site, g, prefix + g.Name + "/", found, groupNames);
        }

        private static int GroupRank(string className, string name) => name switch
        {
            "vars" => 0,
            "forward_layer" => 1,
            "backward_layer" => 2,
            "query_dense" or "_query_dense" => 1,
            "key_dense" or "_key_dense" => 2,
            "value_dense" or "_value_dense" => 3,
            "output_dense" or "_output_dense" => 4,
            _ => 10,
        };

        /// <summary>Every dataset outside the claimed layer groups (model variables, optimizer state, ...).</summary>
        public IReadOnlyList<StoredTensor> ReadUnclaimed()
        {
            var result = new List<StoredTensor>();
            Walk(_h5.File, "", (path, ds) =>
            {
                var t = Hdf5Read.ReadTensor(_file, ds, null, path, _length, _deferred, path);
                _all.Add(t);
                result.Add(new StoredTensor(path, t));
            }, null);
            return result;
        }

        public IReadOnlyDictionary<string, string> UnclaimedGroupNames()
        {
            var names = new Dictionary<string, string>(StringComparer.Ordinal);
            Walk(_h5.File, "", null, names);
            return names;
        }

        private void Walk(IH5Group group, string prefix, Action<string, IH5Dataset>? onDataset, Dictionary<string, string>? names)
        {
            if (names is not null && prefix.Length > 0 && Hdf5Read.StringAttribute(_file, group, "name") is { } n) names[prefix.TrimEnd('/')] = n;
            foreach (var child in Hdf5Read.Guard(_file, null, null, "group listing", () => group.Children().ToList()))
            {
                var path = prefix + child.Name;
                if (_claimed.Contains(path)) continue;
                if (child is IH5Dataset ds) onDataset?.Invoke(path, ds);
                else if (child is IH5Group g) Walk(g, path + "/", onDataset, names);
            }
        }

        public void DisposeAll()
        {
            foreach (var t in _all) t.Dispose();
        }
    }

    private sealed class NativeFileWrapper
    {
        public NativeFileWrapper(PureHDF.VOL.Native.NativeFile file) => File = file;

        public PureHDF.VOL.Native.NativeFile File { get; }

        public bool Exists(string path)
        {
            IH5Group g = File;
            foreach (var part in path.Split('/'))
            {
                if (!g.LinkExists(part)) return false;
                if (g.Get(part) is not IH5Group next) return false;
                g = next;
            }
            return true;
        }
    }
}
