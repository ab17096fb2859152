using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Surgeon.Tensors;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>
/// Reads a TensorFlow.js layers model: <c>model.json</c> (topology + weights manifest) and its binary weight
/// shards, float32 or quantized (uint8/uint16 affine, float16).
/// </summary>
internal static class TfjsReader
{
    public static KerasModel Read(string modelJsonPath, JsonObject doc)
    {
        var topology = doc["modelTopology"] as JsonObject
            ?? throw new KerasFormatException(modelJsonPath, "TensorFlow.js model.json has no 'modelTopology' object.");
        if (topology["model_config"] is JsonObject wrapped) topology = wrapped;
        // Informational only: a value of another type is ignored rather than refused.
        var version = ConfigValues.String(topology, "keras_version") ?? ConfigValues.String(doc, "generatedBy");
        var backend = ConfigValues.String(topology, "backend");
        var weights = ReadWeights(modelJsonPath, doc["weightsManifest"]);
        var source = new ModelSource(modelJsonPath, ModelFormat.TfjsLayers, version, backend);
        var store = new NamedWeightSource(modelJsonPath, weights, "TensorFlow.js weights manifest");
        try
        {
            var model = new ConfigParser(modelJsonPath, new ShapeCheckedSource(modelJsonPath, store)).Parse(topology, source);
            store.ThrowIfUnused();
            return model;
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            throw;
        }
    }

    private static Dictionary<string, Tensor> ReadWeights(string file, JsonNode? manifest)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        if (manifest is null) return result;
        if (manifest is not JsonArray groups)
            throw new KerasFormatException(file, "'weightsManifest' is not a list.");
        var dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        try
        {
            foreach (var g in groups)
            {
                if (g is not JsonObject group || group["paths"] is not JsonArray paths || group["weights"] is not JsonArray specs)
                    throw new KerasFormatException(file, "a weights manifest group lacks 'paths' or 'weights'.");
                var buffer = ReadShards(file, dir, paths);
                long offset = 0;
                foreach (var s in specs)
                {
                    if (s is not JsonObject spec) throw new KerasFormatException(file, "a weights manifest entry is not an object.");
                    var name = OptionalString(file, null, spec, "name") ?? throw new KerasFormatException(file, "a weights manifest entry has no name.");
                    var shape = Shape(file, name, spec["shape"]);
                    long count = 1;
                    foreach (var d in shape)
                    {
                        // Bounded so that count * element size cannot overflow; the shards are checked to hold it later.
                        if (d > 0 && count > long.MaxValue / 8 / d)
                            throw new KerasFormatException(file, $"weights manifest entry declares an absurd shape [{string.Join(", ", shape)}].", weightName: name);
                        count *= d;
                    }
                    var dtype = OptionalString(file, name, spec, "dtype") ?? "float32";
                    var quant = spec["quantization"] as JsonObject;
                    var tensor = Decode(file, name, buffer, ref offset, count, shape, dtype, quant);
                    if (!result.TryAdd(name, tensor))
                    {
                        tensor.Dispose();
                        throw new KerasFormatException(file, "the weights manifest lists this weight twice.", weightName: name);
                    }
                }
                if (offset != buffer.Length)
                    throw new KerasFormatException(file, $"weight shards hold {buffer.Length} bytes but the manifest describes {offset}.");
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    private static byte[] ReadShards(string file, string dir, JsonArray paths)
    {
        var parts = new List<byte[]>();
        foreach (var p in paths)
        {
            var rel = p is JsonValue v && v.TryGetValue(out string? s) ? s : throw new KerasFormatException(file, "a weight shard path is not a string.");
            var full = Path.GetFullPath(Path.Combine(dir, rel));
            if (!full.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new KerasFormatException(file, $"weight shard path '{rel}' points outside the model folder.");
            if (!File.Exists(full)) throw new KerasFormatException(file, $"weight shard '{rel}' does not exist.");
            try
            {
                if (parts.Sum(x => (long)x.Length) + new FileInfo(full).Length > Array.MaxLength)
                    throw new KerasFormatException(file, "weight shards of one manifest group over 2 GiB are not supported.");
                parts.Add(File.ReadAllBytes(full));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new KerasFormatException(file, $"weight shard '{rel}' cannot be read: {e.Message}", inner: e);
            }
        }
        var all = new byte[parts.Sum(b => (long)b.Length)];
        var at = 0;
        foreach (var b in parts) { b.CopyTo(all, at); at += b.Length; }
        return all;
    }

    private static Tensor Decode(string file, string name, byte[] buffer, ref long offset, long count, long[] shape, string dtype, JsonObject? quant)
    {
        if (quant is not null)
        {
            var qtype = OptionalString(file, name, quant, "dtype") ?? throw new KerasFormatException(file, "quantization has no dtype.", weightName: name);
            var original = OptionalString(file, name, quant, "original_dtype") ?? dtype;
            if (original != "float32") throw new KerasFormatException(file, $"quantized weights of original dtype '{original}' are not supported.", weightName: name);
            var size = qtype switch { "uint8" => 1, "uint16" or "float16" => 2, _ => throw new KerasFormatException(file, $"unknown quantization dtype '{qtype}'.", weightName: name) };
            var span = Slice(file, name, buffer, ref offset, count * size);
            var values = new float[count];
            if (qtype == "float16")
            {
                for (var i = 0; i < count; i++) values[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(span.Slice(i * 2)));
            }
            else
            {
                var scale = OptionalNumber(file, name, quant, "scale") ?? throw new KerasFormatException(file, "quantization has no scale.", weightName: name);
                var min = OptionalNumber(file, name, quant, "min") ?? throw new KerasFormatException(file, "quantization has no min.", weightName: name);
                for (var i = 0; i < count; i++)
                {
                    double q = size == 1 ? span[i] : BinaryPrimitives.ReadUInt16LittleEndian(span.Slice(i * 2));
                    values[i] = (float)(q * scale + min);
                }
            }
            return tensor(values, shape, ScalarType.Float32);
        }
        var scalar = dtype switch
        {
            "float32" => ScalarType.Float32,
            "int32" => ScalarType.Int32,
            "bool" => ScalarType.Bool,
            _ => throw new KerasFormatException(file, $"unsupported weight dtype '{dtype}'.", weightName: name),
        };
        var bytes = Slice(file, name, buffer, ref offset, count * TensorBytes.ElementSize(scalar));
        return TensorBytes.FromBytes(bytes, scalar, shape);
    }

    /// <summary>The string at <paramref name="key"/>, null when absent; another type is an error.</summary>
    private static string? OptionalString(string file, string? weight, JsonObject o, string key) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        var other => throw new KerasFormatException(file, $"weights manifest '{key}' should be a string but is {other.ToJsonString()}.", weightName: weight),
    };

    /// <summary>The number at <paramref name="key"/>, null when absent; another type is an error.</summary>
    private static double? OptionalNumber(string file, string weight, JsonObject o, string key) => o[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out double d) => d,
        var other => throw new KerasFormatException(file, $"quantization '{key}' should be a number but is {other.ToJsonString()}.", weightName: weight),
    };

    private static long[] Shape(string file, string weight, JsonNode? node)
    {
        if (node is not JsonArray dims) throw new KerasFormatException(file, "weights manifest entry has no shape list.", weightName: weight);
        var shape = new long[dims.Count];
        for (var i = 0; i < dims.Count; i++)
        {
            if (dims[i] is JsonValue v && v.TryGetValue(out long l)) shape[i] = l;
            else if (dims[i] is JsonValue w && w.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) < 1e15) shape[i] = (long)x;
            else throw new KerasFormatException(file, $"weights manifest shape {dims.ToJsonString()} has a dimension that is not an integer.", weightName: weight);
            if (shape[i] < 0) throw new KerasFormatException(file, $"negative dimension in shape {dims.ToJsonString()}.", weightName: weight);
        }
        return shape;
    }

    private static ReadOnlySpan<byte> Slice(string file, string name, byte[] buffer, ref long offset, long length)
    {
        if (offset + length > buffer.Length)
            throw new KerasFormatException(file, $"weight shards end before this weight ({buffer.Length} bytes, need {offset + length}).", weightName: name);
        var span = buffer.AsSpan((int)offset, (int)length);
        offset += length;
        return span;
    }

    /// <summary>Checks each layer's manifest weights against the shapes its config implies.</summary>
    private sealed class ShapeCheckedSource : IWeightSource
    {
        private readonly string _file;
        private readonly IWeightSource _inner;

        public ShapeCheckedSource(string file, IWeightSource inner)
        {
            _file = file;
            _inner = inner;
        }

        public LayerWeights Load(LayerSite site)
        {
            var weights = _inner.Load(site);
            WeightShapes.Check(_file, site, weights.Weights);
            return weights;
        }
    }
}
