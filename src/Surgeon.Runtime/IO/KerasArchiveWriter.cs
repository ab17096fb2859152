using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using PureHDF;

namespace Surgeon.IO;

/// <summary>
/// Writes a Keras 3 <c>.keras</c> archive: an uncompressed zip of <c>metadata.json</c>, <c>config.json</c> and
/// <c>model.weights.h5</c>, whose groups are named the way Keras 3 names them when it loads the model
/// (<c>layers/&lt;snake_case class&gt;[_n]/vars/&lt;i&gt;</c>, with a <c>vars</c> group and <c>name</c> attribute
/// for every layer, weightless ones included, and a root <c>/vars</c>).
/// </summary>
internal static class KerasArchiveWriter
{
    private static readonly HashSet<string> s_recurrent = new(StringComparer.Ordinal)
    {
        "SimpleRNN", "GRU", "LSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
    };

    /// <summary>Writes <paramref name="model"/> to <paramref name="tempPath"/>; messages name <paramref name="path"/>.</summary>
    public static void Write(KerasModel model, string tempPath, string path)
    {
        if (model.Source.KerasMajorVersion == 1)
            throw new KerasFormatException(path, $"cannot hold model '{model.Name}': it was saved by Keras {model.Source.KerasVersion}, whose layer configs (e.g. Convolution2D, output_dim) and weight layouts Keras 3 cannot read. Save it as .h5.");
        var metadata = new JsonObject
        {
            ["keras_version"] = model.Source.Format == ModelFormat.KerasArchive && model.Source.KerasVersion is { } v ? v : "3.0.0",
            ["date_saved"] = DateTime.Now.ToString("yyyy-MM-dd@HH:mm:ss", CultureInfo.InvariantCulture),
        };
        // Keras 3 lists (and names the weight groups of) a Functional model's layers in its own graph order, and a
        // reader assigns weight groups in config order: write the config in that order so that both agree.
        model = GraphOrder.InKerasOrder(model);
        var config = Keras3Dialect.Convert(model, path).ToJsonString();
        // Keras's entry order; the weights are written by the HDF5 writer straight into the archive (no temporary copy).
        using var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        var zip = new StoredZip.Writer(stream);
        zip.Add("metadata.json", Encoding.UTF8.GetBytes(metadata.ToJsonString()));
        zip.Add("config.json", Encoding.UTF8.GetBytes(config));
        zip.Add("model.weights.h5", weights => WriteWeights(model, weights, path));
        zip.Finish();
    }

    private static void WriteWeights(KerasModel model, Stream h5, string file)
    {
        var strings = new KerasH5Strings();
        using var data = new Hdf5Write();
        var root = new H5File();
        WriteModel(model, root, "", strings, data, file);
        if (model.Source.Format == ModelFormat.KerasArchive)
        {
            foreach (var extra in model.ExtraWeights)
            {
                Hdf5Write.Put(root, extra.Path, data.Dataset(extra.Value, file, $"variable '{extra.Path}'"), file);
            }
            foreach (var (groupPath, name) in model.ArchiveGroupNames)
            {
                Hdf5Write.Group(root, groupPath).Attributes["name"] = strings.Scalar(name, ascii: false);
            }
        }
        strings.Write(root, h5);
    }

    /// <summary>Writes a (possibly nested) model's variables below <paramref name="prefix"/>.</summary>
    private static void WriteModel(KerasModel model, H5Group root, string prefix, KerasH5Strings strings, Hdf5Write data, string file)
    {
        var own = Hdf5Write.Group(root, prefix + "vars");
        if (!own.Attributes.ContainsKey("name")) own.Attributes["name"] = strings.Scalar(model.Name, ascii: false);
        if (model.IsOpaque) return;
        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var layer in GraphOrder.KerasLayers(model))
        {
            var snake = ConfigParser.SnakeCase(layer.ClassName);
            var n = counters.TryGetValue(snake, out var c) ? c + 1 : 0;
            counters[snake] = n;
            var layerPath = $"{prefix}layers/{(n == 0 ? snake : $"{snake}_{n}")}/";
            if (layer.NestedModel is { } nested)
            {
                WriteModel(nested, root, layerPath, strings, data, file);
                continue;
            }
            var group = Hdf5Write.Group(root, layerPath);
            var vars = Hdf5Write.Group(group, "vars");
            CheckCount(layer, file);
            var paths = ArchivePaths(layer);
            for (var i = 0; i < layer.Weights.Count; i++)
            {
                var w = layer.Weights[i];
                Hdf5Write.Put(group, paths[i], data.Dataset(w.Value, file, $"weight '{w.Name}' of layer '{layer.Name}'"), file);
            }
            foreach (var (sub, name) in layer.ArchiveGroupNames)
            {
                Hdf5Write.Group(group, sub).Attributes["name"] = strings.Scalar(name, ascii: false);
            }
            if (!vars.Attributes.ContainsKey("name")) vars.Attributes["name"] = strings.Scalar(layer.Name, ascii: false);
            foreach (var p in paths.Select(p => p[..p.LastIndexOf('/')]).Distinct().Where(p => p != "vars"))
            {
                var g = Hdf5Write.Group(group, p);
                if (!g.Attributes.ContainsKey("name")) g.Attributes["name"] = strings.Scalar(DefaultGroupName(layer, p), ascii: false);
            }
        }
    }

    private static void CheckCount(KerasLayer layer, string file)
    {
        var expected = LayerCatalog.VariableNames(layer.ClassName, layer.ConfigNode);
        if (expected is { Length: > 0 } && layer.Weights.Count == 0)
            throw new KerasFormatException(file, $"has no weights for this {layer.ClassName} (the model was saved before it was built), and Keras 3 would expect {string.Join(", ", expected)}.", layer.Name);
        if (expected is not null && expected.Length != layer.Weights.Count)
            throw new KerasFormatException(file, $"has {layer.Weights.Count} weights but Keras 3 expects {expected.Length} ({string.Join(", ", expected)}) for this {layer.ClassName}; the weights use a layout (e.g. Keras 1's per-gate arrays) that .keras cannot hold.", layer.Name);
    }

    /// <summary>Each weight's path inside the layer group: the recorded one, or Keras 3's path for its class.</summary>
    private static string[] ArchivePaths(KerasLayer layer)
    {
        var result = new string[layer.Weights.Count];
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < layer.Weights.Count; i++)
        {
            var w = layer.Weights[i];
            if (w.ArchivePath is { } recorded)
            {
                result[i] = recorded;
                continue;
            }
            var container = Container(layer, w.Name);
            var index = counts.TryGetValue(container, out var k) ? k : 0;
            counts[container] = index + 1;
            result[i] = $"{container}/{index.ToString(CultureInfo.InvariantCulture)}";
        }
        return result;
    }

    private static string Container(KerasLayer layer, string weightName)
    {
        var inner = (layer.ConfigNode["layer"] as JsonObject)?["class_name"].AsString();
        switch (layer.ClassName)
        {
            case var c when s_recurrent.Contains(c):
                return "cell/vars";
            case "Bidirectional":
                {
                    var side = weightName.StartsWith("backward", StringComparison.Ordinal) ? "backward_layer" : "forward_layer";
                    return inner is not null && s_recurrent.Contains(inner) ? $"{side}/cell/vars" : $"{side}/vars";
                }
            case "TimeDistributed":
                return inner is not null && s_recurrent.Contains(inner) ? "layer/cell/vars" : "layer/vars";
            case "MultiHeadAttention":
                {
                    var part = weightName.Split('/')[0];
                    return part switch
                    {
                        "query" => "query_dense/vars",
                        "key" => "key_dense/vars",
                        "value" => "value_dense/vars",
                        _ => "output_dense/vars",
                    };
                }
            default:
                return "vars";
        }
    }

    private static string DefaultGroupName(KerasLayer layer, string subPath) => subPath switch
    {
        "cell/vars" => ConfigParser.SnakeCase(layer.ClassName) + "_cell",
        _ => layer.Name + "_" + subPath.Split('/')[0],
    };
}
