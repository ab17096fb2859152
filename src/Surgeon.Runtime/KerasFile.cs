using System.Text.Json.Nodes;
using Surgeon.IO;

namespace Surgeon;

/// <summary>Options for <see cref="KerasFile.Load(string, LoadOptions?)"/>.</summary>
public sealed record LoadOptions
{
    /// <summary>
    /// Weights-only HDF5 file (<c>model.save_weights("w.h5")</c>) to combine with an architecture JSON; ignored for
    /// formats that carry their own weights.
    /// </summary>
    public string? WeightsPath { get; init; }

    /// <summary>Device to put the weights on (default: CPU).</summary>
    public TorchSharp.torch.Device? Device { get; init; }
}

/// <summary>The file formats Surgeon writes.</summary>
public enum SaveFormat
{
    /// <summary>Choose from the file extension: <c>.keras</c> gives <see cref="KerasArchive"/>, anything else <see cref="LegacyHdf5"/>.</summary>
    FromExtension,
    /// <summary>Keras legacy HDF5 (<c>.h5</c>), loadable by Keras 1.x-3.x's <c>load_model</c>.</summary>
    LegacyHdf5,
    /// <summary>Keras 3 native <c>.keras</c> archive.</summary>
    KerasArchive,
}

/// <summary>Loads and saves Keras models in every supported format.</summary>
public static class KerasFile
{
    /// <summary>
    /// Loads a model. The format is judged from the content: legacy HDF5 (full model), a <c>.keras</c> archive, a
    /// TensorFlow.js <c>model.json</c> (or its folder), or an architecture JSON (with
    /// <see cref="LoadOptions.WeightsPath"/> for its weights). The file is only read, never modified.
    /// </summary>
    /// <exception cref="KerasFormatException">The file is missing, truncated, corrupt or inconsistent; the message names it and the layer at fault.</exception>
    public static KerasModel Load(string path, LoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new LoadOptions();
        var file = FormatDetector.ResolveFile(path);
        KerasModel model;
        switch (FormatDetector.Detect(file))
        {
            case ContentKind.Hdf5:
                model = LegacyH5Reader.ReadFull(file);
                break;
            case ContentKind.Zip:
                model = KerasArchiveReader.Read(file);
                break;
            case ContentKind.Json:
                model = LoadJson(file, options.WeightsPath);
                break;
            default:
                throw new KerasFormatException(file, "is not a Keras model: it is neither HDF5, a .keras zip archive nor JSON.");
        }
        if (options.Device is { } device && device.type != TorchSharp.DeviceType.CPU)
        {
            using (model)
            {
                return ModelCopy.To(model, device);
            }
        }
        return model;
    }

    private static KerasModel LoadJson(string file, string? weightsPath)
    {
        var info = new FileInfo(file);
        if (info.Length > 512L << 20) throw new KerasFormatException(file, $"is a {info.Length:N0}-byte JSON file, too large for a model description.");
        var doc = ConfigParser.ParseObject(File.ReadAllText(file), file, "the file");
        if (doc.ContainsKey("modelTopology") || doc.ContainsKey("weightsManifest"))
            return TfjsReader.Read(file, doc);
        if (doc.ContainsKey("class_name") && doc.ContainsKey("config"))
        {
            if (weightsPath is not null)
            {
                var weights = FormatDetector.ResolveFile(weightsPath);
                if (FormatDetector.Detect(weights) != ContentKind.Hdf5)
                    throw new KerasFormatException(weights, "is not an HDF5 weights file.");
                return LegacyH5Reader.ReadArchitectureWithWeights(file, doc, weights);
            }
            return LegacyH5Reader.ReadArchitectureWithWeights(file, doc, null);
        }
        throw new KerasFormatException(file, "is JSON but neither a Keras architecture ('class_name' and 'config') nor a TensorFlow.js model ('modelTopology').");
    }

    /// <summary>
    /// Saves <paramref name="model"/> in the Keras layout of <paramref name="format"/>. The file is written to a
    /// temporary file beside <paramref name="path"/> and renamed over it only when complete, so a failure never
    /// leaves a half-written file.
    /// </summary>
    public static void Save(KerasModel model, string path, SaveFormat format = SaveFormat.FromExtension)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(path);
        if (format == SaveFormat.FromExtension)
            format = Path.GetExtension(path).Equals(".keras", StringComparison.OrdinalIgnoreCase) ? SaveFormat.KerasArchive : SaveFormat.LegacyHdf5;
        AtomicFile.Write(path, temp =>
        {
            if (format == SaveFormat.KerasArchive) KerasArchiveWriter.Write(model, temp, path);
            else LegacyH5Writer.Write(model, temp, path);
        });
    }

    /// <summary>Reads a model from its architecture JSON text alone (<c>model.to_json()</c> output), without weights.</summary>
    public static KerasModel ParseArchitecture(string json)
    {
        var root = ConfigParser.ParseObject(json, null, "the architecture JSON");
        return LegacyH5Reader.ReadArchitectureWithWeights("<json>", root, null);
    }

    /// <summary>
    /// Builds a model from its architecture JSON with freshly initialised weights, created the way Keras builds the
    /// layers (shapes from the input shapes, values from each layer's initializer config), reproducibly from
    /// <paramref name="seed"/>.
    /// </summary>
    public static KerasModel CreateFromArchitecture(string json, long seed = 0)
    {
        using var skeleton = ParseArchitecture(json);
        return WeightFactory.Initialize(skeleton, seed);
    }
}
