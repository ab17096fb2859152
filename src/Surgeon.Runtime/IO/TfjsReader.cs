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
        var version = topology["keras_version"]?.GetValue<string>() ?? doc["generatedBy"]?.GetValue<string>();
        var backend = topology["backend"]?.GetValue<string>();
        var weights = ReadWeights(modelJsonPath, doc["weightsManifest"]);
        var source = new ModelSource(modelJsonPath, ModelFormat.TfjsLayers, version, backend);
        var store = new NamedWeightSource(modelJsonPath, weights, "TensorFlow.js weights manifest");
        try
        {
            var model = new ConfigParser(modelJsonPath, store).Parse(topology, source);
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
                    var name = spec["name"]?.GetValue<string>() ?? throw new KerasFormatException(file, "a weights manifest entry has no name.");
                    var shape = (spec["shape"] as JsonArray)?.Select(d => d!.GetValue<long>()).ToArray()
                        ?? throw new KerasFormatException(file, "weights manifest entry has no shape.", weightName: name);
                    if (shape.Any(d => d < 0)) throw new KerasFormatException(file, "negative dimension in shape.", weightName: name);
                    var count = shape.Aggregate(1L, (a, b) => checked(a * b));
                    var dtype = spec["dtype"]?.GetValue<string>() ?? "float32";
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
            var rel = p?.GetValue<string>() ?? throw new KerasFormatException(file, "a weight shard path is not a string.");
            var full = Path.GetFullPath(Path.Combine(dir, rel));
            if (!full.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new KerasFormatException(file, $"weight shard path '{rel}' points outside the model folder.");
            if (!File.Exists(full)) throw new KerasFormatException(file, $"weight shard '{rel}' does not exist.");
            parts.Add(File.ReadAllBytes(full));
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
            var qtype = quant["dtype"]?.GetValue<string>() ?? throw new KerasFormatException(file, "quantization has no dtype.", weightName: name);
            var original = quant["original_dtype"]?.GetValue<string>() ?? dtype;
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
                var scale = quant["scale"]?.GetValue<double>() ?? throw new KerasFormatException(file, "quantization has no scale.", weightName: name);
                var min = quant["min"]?.GetValue<double>() ?? throw new KerasFormatException(file, "quantization has no min.", weightName: name);
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

    private static ReadOnlySpan<byte> Slice(string file, string name, byte[] buffer, ref long offset, long length)
    {
        if (offset + length > buffer.Length)
            throw new KerasFormatException(file, $"weight shards end before this weight ({buffer.Length} bytes, need {offset + length}).", weightName: name);
        var span = buffer.AsSpan((int)offset, (int)length);
        offset += length;
        return span;
    }
}
