using System;
using System.Collections.Generic;
using System.Globalization;

namespace Surgeon.Generators.Json;

/// <summary>
/// A parsed JSON value. The generator targets netstandard2.0, where System.Text.Json is not available to analyzers
/// without shipping it, so it reads architecture JSON with this small self-contained model and <see cref="JsonReader"/>.
/// </summary>
internal abstract class JsonNode
{
    public string? AsString() => (this as JsonString)?.Value;

    public bool? AsBool() => (this as JsonBool)?.Value;

    /// <summary>An integral value (a whole float such as <c>32.0</c> counts, as Keras accepts it).</summary>
    public int? AsInt()
    {
        if (this is not JsonNumber n) return null;
        var d = n.Value;
        if (double.IsNaN(d) || double.IsInfinity(d) || d != Math.Floor(d) || d < int.MinValue || d > int.MaxValue) return null;
        return (int)d;
    }
}

internal sealed class JsonObject : JsonNode
{
    private readonly Dictionary<string, JsonNode> _byKey = new(StringComparer.Ordinal);

    public List<KeyValuePair<string, JsonNode>> Properties { get; } = new();

    /// <summary>The value of <paramref name="key"/> (the last one when a key repeats, as Python's json does), or null.</summary>
    public JsonNode? this[string key] => _byKey.TryGetValue(key, out var v) ? v : null;

    public bool ContainsKey(string key) => _byKey.ContainsKey(key);

    public void Add(string key, JsonNode value)
    {
        Properties.Add(new KeyValuePair<string, JsonNode>(key, value));
        _byKey[key] = value;
    }

    public string? String(string key) => this[key]?.AsString();

    public int? Int(params string[] keys)
    {
        foreach (var k in keys)
        {
            if (this[k]?.AsInt() is { } i) return i;
        }
        return null;
    }

    public bool Bool(string key, bool fallback) => this[key]?.AsBool() ?? fallback;
}

internal sealed class JsonArray : JsonNode
{
    public List<JsonNode> Items { get; } = new();

    public int Count => Items.Count;

    public JsonNode this[int index] => Items[index];
}

internal sealed class JsonString : JsonNode
{
    public JsonString(string value) => Value = value;

    public string Value { get; }
}

internal sealed class JsonNumber : JsonNode
{
    public JsonNumber(double value) => Value = value;

    public double Value { get; }

    public override string ToString() => Value.ToString("R", CultureInfo.InvariantCulture);
}

internal sealed class JsonBool : JsonNode
{
    public static readonly JsonBool True = new(true);
    public static readonly JsonBool False = new(false);

    private JsonBool(bool value) => Value = value;

    public bool Value { get; }
}

internal sealed class JsonNull : JsonNode
{
    public static readonly JsonNull Instance = new();

    private JsonNull()
    {
    }
}
