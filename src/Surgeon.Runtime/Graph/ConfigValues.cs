using System.Text.Json.Nodes;

namespace Surgeon;

/// <summary>Typed reads of Keras layer config values, accepting the Keras 1 key names where they differ.</summary>
internal static class ConfigValues
{
    /// <summary>The node's string value, or null when it is absent or not a string.</summary>
    public static string? AsString(this JsonNode? n) => n is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    /// <summary>
    /// The layer a wrapper (Bidirectional, TimeDistributed) holds under <paramref name="key"/>: its class name and config
    /// (not copied), or null when the entry has no class_name and config object.
    /// </summary>
    public static (string ClassName, JsonObject Config)? Wrapped(JsonObject config, string key) =>
        config[key] is JsonObject inner && inner["class_name"].AsString() is { } cls && inner["config"] is JsonObject innerConfig ? (cls, innerConfig) : null;

    public static int? Int(JsonObject c, params string[] keys)
    {
        foreach (var k in keys)
        {
            if (c[k] is JsonValue v)
            {
                if (v.TryGetValue(out int i)) return i;
                if (v.TryGetValue(out double d)) return (int)d;
            }
        }
        return null;
    }

    public static string? String(JsonObject c, params string[] keys)
    {
        foreach (var k in keys)
        {
            if (c[k] is JsonValue v && v.TryGetValue(out string? s)) return s;
        }
        return null;
    }

    public static bool Bool(JsonObject c, string key, bool dflt) =>
        c[key] is JsonValue v && v.TryGetValue(out bool b) ? b : dflt;

    /// <summary>An int tuple (e.g. <c>kernel_size</c>); a single int is repeated <paramref name="rank"/> times.</summary>
    public static int[]? Ints(JsonObject c, int rank, params string[] keys)
    {
        foreach (var k in keys)
        {
            switch (c[k])
            {
                case JsonArray a when a.All(x => x is JsonValue):
                    return a.Select(x => x!.GetValue<int>()).ToArray();
                case JsonValue v when v.TryGetValue(out int i):
                    return Enumerable.Repeat(i, rank).ToArray();
            }
        }
        return null;
    }

    /// <summary>A shape list with nulls for unknown dimensions.</summary>
    public static int?[]? Shape(JsonNode? n) =>
        n is JsonArray a ? a.Select(x => x is JsonValue v && v.TryGetValue(out int i) ? i : (int?)null).ToArray() : null;

    /// <summary>True when the layer's data format puts channels first (Keras 2+ <c>data_format</c> or Keras 1 <c>dim_ordering</c>).</summary>
    public static bool ChannelsFirst(JsonObject c) =>
        String(c, "data_format") == "channels_first" || String(c, "dim_ordering") == "th";
}
