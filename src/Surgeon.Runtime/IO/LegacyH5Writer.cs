using PureHDF;

namespace Surgeon.IO;

/// <summary>
/// Writes the Keras legacy HDF5 layout (<c>model.save("x.h5")</c>): root attributes <c>keras_version</c>,
/// <c>backend</c>, <c>model_config</c> (and <c>training_config</c>), a <c>model_weights</c> group with
/// <c>layer_names</c> and one group per layer holding <c>weight_names</c> and the datasets, and
/// <c>optimizer_weights</c> when the model came with them. String attribute types follow h5py 3.
/// </summary>
internal static class LegacyH5Writer
{
    /// <summary>Keras's <c>HDF5_OBJECT_HEADER_LIMIT</c>: name lists above it are split into name0, name1, ...</summary>
    internal const int HeaderLimit = 64512;

    /// <summary>Writes <paramref name="model"/> to <paramref name="tempPath"/>; messages name <paramref name="path"/>.</summary>
    public static void Write(KerasModel model, string tempPath, string path)
    {
        if (model.IsOpaque)
            throw new KerasFormatException(path, $"cannot hold model '{model.Name}': it is a subclassed {model.ClassName} whose layers are not in its config, and Keras's HDF5 format needs a Functional or Sequential model. Save it as .keras.");
        var strings = new KerasH5Strings();
        using var data = new Hdf5Write();
        var version = KerasVersion(model);
        var backend = model.Source.Backend ?? "tensorflow";
        var file = new H5File();
        file.Attributes["keras_version"] = strings.Scalar(version, ascii: false);
        file.Attributes["backend"] = strings.Scalar(backend, ascii: false);
        file.Attributes["model_config"] = strings.Scalar(ConfigWriter.Architecture(model).ToJsonString(), ascii: true);
        if (model.TrainingConfig is { } training) file.Attributes["training_config"] = strings.Scalar(training, ascii: true);

        var weightsGroup = new H5Group();
        file["model_weights"] = weightsGroup;
        var layers = model.Layers.Where(l => !l.IsSynthesized && !(model.IsSequential && l.ClassName == "InputLayer")).ToList();
        PutNames(weightsGroup, "layer_names", layers.Select(l => l.Name).ToArray(), strings, path);
        weightsGroup.Attributes["backend"] = strings.Scalar(backend, ascii: true);
        weightsGroup.Attributes["keras_version"] = strings.Scalar(version, ascii: true);

        // Keras creates the layer groups in name order ("to avoid prefix issues"); layer_names keeps model order.
        foreach (var layer in layers.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            var group = new H5Group();
            weightsGroup[layer.Name] = group;
            var weights = LegacyWeights(layer);
            var names = weights.Select(w => StoredName(layer, w.Owner, w.Weight)).ToArray();
            PutNames(group, "weight_names", names, strings, path);
            for (var i = 0; i < weights.Count; i++)
            {
                Hdf5Write.Put(group, names[i], data.Dataset(weights[i].Weight.Value, path, $"weight '{names[i]}' of layer '{layer.Name}'"), path);
            }
        }

        if (model.Source.Format == ModelFormat.LegacyHdf5 && model.ExtraWeights.Count > 0)
        {
            var optimizer = new H5Group();
            file["optimizer_weights"] = optimizer;
            PutNames(optimizer, "weight_names", model.ExtraWeights.Select(e => e.Path).ToArray(), strings, path);
            foreach (var extra in model.ExtraWeights)
            {
                Hdf5Write.Put(optimizer, extra.Path, data.Dataset(extra.Value, path, $"optimizer weight '{extra.Path}'"), path);
            }
        }
        strings.Write(file, tempPath);
    }

    /// <summary>The version to record: the source's, else one matching the config dialect.</summary>
    internal static string KerasVersion(KerasModel model) => model.Source.KerasVersion ?? model.Dialect switch
    {
        KerasDialect.Keras1 => "1.2.2",
        KerasDialect.Keras3 => "3.0.0",
        _ => "2.15.0",
    };

    /// <summary>
    /// A layer's weights in Keras's legacy order: its own, or for a nested model all trainable weights of its layers
    /// followed by all non-trainable ones (Keras's <c>trainable_weights + non_trainable_weights</c>).
    /// </summary>
    private static List<(KerasLayer Owner, KerasWeight Weight)> LegacyWeights(KerasLayer layer)
    {
        if (layer.NestedModel is not { } nested) return layer.Weights.Select(w => (layer, w)).ToList();
        var all = NestedWeights(nested, layer.Trainable).ToList();
        return all.Where(x => x.Trainable).Concat(all.Where(x => !x.Trainable)).Select(x => (x.Owner, x.Weight)).ToList();
    }

    private static IEnumerable<(KerasLayer Owner, KerasWeight Weight, bool Trainable)> NestedWeights(KerasModel model, bool trainable)
    {
        foreach (var l in model.Layers)
        {
            var t = trainable && l.Trainable;
            foreach (var w in l.Weights) yield return (l, w, t && w.Trainable);
            if (l.NestedModel is { } inner)
            {
                foreach (var x in NestedWeights(inner, t)) yield return x;
            }
        }
    }

    private static string StoredName(KerasLayer group, KerasLayer owner, KerasWeight w) =>
        w.StoredName ?? $"{owner.Name}/{w.Name}";

    /// <summary>
    /// Writes a name list the way Keras's <c>save_attributes_to_hdf5_group</c> does: a variable-length ASCII array,
    /// an empty float64 array when there are no names, or fixed-length chunks <c>name0</c>, <c>name1</c>, ... when
    /// the fixed-width array would exceed the object-header limit.
    /// </summary>
    internal static void PutNames(H5Group group, string name, string[] values, KerasH5Strings strings, string? file)
    {
        if (values.Length == 0)
        {
            group.Attributes[name] = new H5Attribute(Array.Empty<double>(), dimensions: new ulong[] { 0 });
            return;
        }
        var longest = values.Max(v => System.Text.Encoding.UTF8.GetByteCount(v));
        if (longest > HeaderLimit)
            throw new KerasFormatException(file, $"a name of {longest} bytes in '{name}' exceeds HDF5's object header limit of {HeaderLimit} bytes.");
        var chunks = 1;
        while ((long)((values.Length + chunks - 1) / chunks) * longest > HeaderLimit) chunks++;
        if (chunks == 1)
        {
            group.Attributes[name] = strings.VlenAsciiArray(values);
            return;
        }
        // numpy.array_split: the first (n mod k) chunks get one extra element.
        var at = 0;
        for (var i = 0; i < chunks; i++)
        {
            var size = values.Length / chunks + (i < values.Length % chunks ? 1 : 0);
            group.Attributes[name + i] = strings.FixedAsciiArray(values[at..(at + size)]);
            at += size;
        }
    }
}
