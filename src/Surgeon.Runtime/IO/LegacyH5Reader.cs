using System.Text.Json.Nodes;
using PureHDF;
using PureHDF.VOL.Native;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>
/// Reads Keras legacy HDF5 files: full models (<c>model.save("x.h5")</c>, Keras 1.x, 2.x, tf.keras and Keras 3) and
/// weights-only files (<c>model.save_weights("x.h5")</c>) combined with an architecture JSON.
/// </summary>
internal static class LegacyH5Reader
{
    public static KerasModel ReadFull(string file)
    {
        using var h5 = Hdf5Read.Open(file);
        var config = Hdf5Read.StringAttribute(file, h5, "model_config");
        if (config is null)
        {
            var kind = Hdf5Read.LinkExists(file, h5, "inputs") || Hdf5Read.LinkExists(file, h5, "predictions")
                ? "an HDF5 data file, not a Keras model"
                : "a Keras weights-only file (no 'model_config'): load the model's architecture JSON instead, with this file as its weights (LoadOptions.WeightsPath, or --weights)";
            throw new KerasFormatException(file, $"is {kind}.");
        }
        var root = ConfigParser.ParseObject(config, file, "the 'model_config' attribute");
        var version = Hdf5Read.StringAttribute(file, h5, "keras_version");
        var backend = Hdf5Read.StringAttribute(file, h5, "backend");
        if (!Hdf5Read.LinkExists(file, h5, "model_weights"))
            throw new KerasFormatException(file, "has a 'model_config' but no 'model_weights' group.");
        var weightsGroup = Hdf5Read.Guard(file, null, null, "group 'model_weights'", () => h5.Group("model_weights"));
        version ??= Hdf5Read.StringAttribute(file, weightsGroup, "keras_version");
        backend ??= Hdf5Read.StringAttribute(file, weightsGroup, "backend");
        var source = new ModelSource(file, ModelFormat.LegacyHdf5, version, backend);
        var model = Build(file, root, source, weightsGroup, "/model_weights");
        try
        {
            model.TrainingConfig = Hdf5Read.StringAttribute(file, h5, "training_config");
            model.ExtraWeights = ReadOptimizerWeights(file, h5);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static KerasModel ReadArchitectureWithWeights(string jsonFile, JsonObject root, string? weightsFile)
    {
        if (weightsFile is null)
        {
            var src = new ModelSource(jsonFile, ModelFormat.ArchitectureJson, Str(root, "keras_version"), Str(root, "backend"));
            return new ConfigParser(jsonFile, NoWeights.Instance).Parse(root, src);
        }
        using var h5 = Hdf5Read.Open(weightsFile);
        var nested = Hdf5Read.LinkExists(weightsFile, h5, "model_weights");
        IH5Group group = nested
            ? Hdf5Read.Guard(weightsFile, null, null, "group 'model_weights'", () => h5.Group("model_weights"))
            : h5;
        var version = Str(root, "keras_version") ?? Hdf5Read.StringAttribute(weightsFile, h5, "keras_version");
        var backend = Str(root, "backend") ?? Hdf5Read.StringAttribute(weightsFile, h5, "backend");
        var source = new ModelSource(jsonFile, ModelFormat.ArchitectureJsonWithWeights, version, backend);
        return Build(weightsFile, root, source, group, nested ? "/model_weights" : "");
    }

    private static string? Str(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static KerasModel Build(string file, JsonObject root, ModelSource source, IH5Group weightsGroup, string groupPath)
    {
        var deferred = new DeferredReads();
        var store = new H5WeightSource(file, weightsGroup, groupPath, deferred, TopLevelLayerNames(root));
        try
        {
            var model = new ConfigParser(file, store).Parse(root, source);
            store.ThrowIfUnread(model);
            deferred.Execute(file, () => new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16));
            return model;
        }
        catch
        {
            store.DisposeAll();
            throw;
        }
    }

    private static HashSet<string> TopLevelLayerNames(JsonObject root)
    {
        var layers = root["config"] as JsonArray ?? (root["config"] as JsonObject)?["layers"] as JsonArray ?? new JsonArray();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var l in layers.OfType<JsonObject>())
        {
            var name = (l["name"] ?? (l["config"] as JsonObject)?["name"]) is JsonValue v && v.TryGetValue(out string? s) ? s : null;
            if (name is not null) names.Add(name);
        }
        return names;
    }

    private static IReadOnlyList<StoredTensor> ReadOptimizerWeights(string file, NativeFile h5)
    {
        if (!Hdf5Read.LinkExists(file, h5, "optimizer_weights")) return Array.Empty<StoredTensor>();
        var group = Hdf5Read.Guard(file, null, null, "group 'optimizer_weights'", () => h5.Group("optimizer_weights"));
        var names = Hdf5Read.NameListAttribute(file, group, "weight_names") ?? Array.Empty<string>();
        var length = new FileInfo(file).Length;
        var result = new List<StoredTensor>();
        try
        {
            foreach (var name in names)
            {
                var ds = Hdf5Read.Guard(file, null, name, "optimizer weight", () => group.Dataset(name));
                result.Add(new StoredTensor(name, Hdf5Read.ReadTensor(file, ds, null, name, length)));
            }
        }
        catch
        {
            foreach (var t in result) t.Value.Dispose();
            throw;
        }
        return result;
    }

    private sealed class NoWeights : IWeightSource
    {
        public static readonly NoWeights Instance = new();
        public LayerWeights Load(LayerSite site) => LayerWeights.None;
    }

    /// <summary>
    /// Finds each layer's group under <c>model_weights</c> (or the root of a weights-only file), and its datasets by
    /// the group's <c>weight_names</c>. Groups are matched to layers by name when every group with weights names a
    /// layer of the model; otherwise by order, as Keras's <c>load_weights</c> does (the layers with weights, in model
    /// order, take the groups with weights, in <c>layer_names</c> order), which handles weights saved from a model
    /// whose layers were named differently. Weights of a nested model's layers live in the nested model's group and
    /// are matched by their name prefix.
    /// </summary>
    private sealed class H5WeightSource : IWeightSource
    {
        private readonly string _file;
        private readonly IH5Group _group;
        private readonly long _length;
        private readonly string[] _layerNames;
        private readonly HashSet<string> _readGroups = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (string[] Names, HashSet<string> Used)> _nestedNames = new(StringComparer.Ordinal);
        private readonly List<Tensor> _all = new();

        private readonly Queue<string>? _byOrder;

        private readonly string _groupPath;
        private readonly DeferredReads _deferred;

        public H5WeightSource(string file, IH5Group group, string groupPath, DeferredReads deferred, HashSet<string> modelLayerNames)
        {
            _groupPath = groupPath;
            _deferred = deferred;
            _file = file;
            _group = group;
            _length = new FileInfo(file).Length;
            _layerNames = Hdf5Read.NameListAttribute(file, group, "layer_names")
                ?? throw new KerasFormatException(file, "has no 'layer_names' attribute on its weights group.");
            var weighted = _layerNames.Where(n => Hdf5Read.LinkExists(file, group, n, n)
                && (Hdf5Read.NameListAttribute(file, Hdf5Read.Guard(file, n, null, "layer group", () => group.Group(n)), "weight_names", n) ?? Array.Empty<string>()).Length > 0).ToList();
            if (!weighted.All(modelLayerNames.Contains)) _byOrder = new Queue<string>(weighted);
        }

        public LayerWeights Load(LayerSite site)
        {
            var groupName = site.Scope.Count == 0 ? site.Name : site.Scope[0];
            if (_byOrder is not null && site.Scope.Count == 0)
            {
                var expected = LayerCatalog.VariableNames(site.ClassName, site.Config);
                if (expected is { Length: 0 }) return LayerWeights.None;
                if (_byOrder.Count == 0)
                {
                    if (expected is null) return LayerWeights.None;
                    throw new KerasFormatException(_file, $"Layer count mismatch: the file has fewer layers with weights than the model (none left for this {site.ClassName}).", site.Name);
                }
                groupName = _byOrder.Dequeue();
            }
            if (!_layerNames.Contains(groupName) || !Hdf5Read.LinkExists(_file, _group, groupName, site.Name))
            {
                var expected = LayerCatalog.VariableNames(site.ClassName, site.Config);
                if (expected is { Length: > 0 } && site.Scope.Count == 0)
                    throw new KerasFormatException(_file, $"has no weights for this {site.ClassName} layer (expected {string.Join(", ", expected)}).", site.Name);
                return LayerWeights.None;
            }
            var layerGroup = Hdf5Read.Guard(_file, site.Name, null, "layer group", () => _group.Group(groupName));
            var names = Hdf5Read.NameListAttribute(_file, layerGroup, "weight_names", site.Name) ?? Array.Empty<string>();
            if (site.Scope.Count > 0)
            {
                if (!_nestedNames.TryGetValue(groupName, out var entry))
                {
                    entry = (names, new HashSet<string>(StringComparer.Ordinal));
                    _nestedNames[groupName] = entry;
                }
                names = names.Where(n => !entry.Used.Contains(n) && (n.StartsWith(site.Name + "/", StringComparison.Ordinal) || n.Contains("/" + site.Name + "/", StringComparison.Ordinal))).ToArray();
                foreach (var n in names) entry.Used.Add(n);
            }
            else
            {
                _readGroups.Add(groupName);
            }
            var weights = new List<KerasWeight>(names.Length);
            foreach (var name in names)
            {
                var ds = Hdf5Read.Guard(_file, site.Name, name, "weight", () => layerGroup.Dataset(name));
                var tensor = Hdf5Read.ReadTensor(_file, ds, site.Name, name, _length, _deferred, $"{_groupPath}/{groupName}/{name}");
                _all.Add(tensor);
                var owner = site.Scope.Count == 0 ? groupName : site.Name;
                var shortName = LayerCatalog.ShortName(name, owner, site.ClassName);
                // Weights matched by order keep their names but under this model's layer name.
                var stored = owner != site.Name && name.StartsWith(owner + "/", StringComparison.Ordinal) ? site.Name + name[owner.Length..] : name;
                weights.Add(new KerasWeight(shortName, tensor, LayerCatalog.IsTrainableVariable(site.ClassName, shortName), stored, null));
            }
            WeightShapes.Check(_file, site, weights);
            return new LayerWeights(weights, new Dictionary<string, string>());
        }

        /// <summary>Fails if a nested model's group had weights no nested layer claimed (they would be lost on save).</summary>
        public void ThrowIfUnread(KerasModel model)
        {
            if (_byOrder is { Count: > 0 })
                throw new KerasFormatException(_file, $"Layer count mismatch: the file has weights for {_byOrder.Count} more layer(s) than the model ({string.Join(", ", _byOrder.Take(5))}).");
            foreach (var (group, (names, used)) in _nestedNames)
            {
                var lost = names.Where(n => !used.Contains(n)).ToList();
                if (lost.Count > 0)
                    throw new KerasFormatException(_file, $"weights [{string.Join(", ", lost.Take(5))}] of nested model '{group}' match none of its layers.", group);
            }
        }

        public void DisposeAll()
        {
            foreach (var t in _all) t.Dispose();
        }
    }
}
