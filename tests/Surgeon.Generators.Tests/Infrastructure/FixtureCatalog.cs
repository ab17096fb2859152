using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>Every model fixture: the real files of the manifest and the oracle's models, by id.</summary>
public static class FixtureCatalog
{
    private static readonly string[] s_modelFormats =
    {
        "legacy-h5-full", "keras3-zip (.keras)", "tfjs layers model.json", "Keras model.to_json() architecture",
    };

    /// <summary>Ids: <c>real/&lt;fixture&gt;</c> or <c>oracle/&lt;path&gt;</c>; one placeholder when the fixtures are absent.</summary>
    public static TheoryData<string> ModelIds()
    {
        var data = new TheoryData<string>();
        var manifest = Path.Combine(Fixtures.RealRoot, "manifest.json");
        if (File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (s_modelFormats.Contains(e.GetProperty("format").GetString())) data.Add("real/" + e.GetProperty("fixture").GetString());
            }
        }
        if (Directory.Exists(Fixtures.OracleRoot))
        {
            foreach (var file in Directory.GetFiles(Fixtures.OracleRoot, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(Fixtures.OracleRoot, file).Replace('\\', '/');
                if (relative.EndsWith("/model.json", StringComparison.Ordinal) || relative.StartsWith("keras_dialects/", StringComparison.Ordinal))
                    data.Add("oracle/" + relative);
            }
        }
        if (data.Count == 0) data.Add("<no fixtures>");
        return data;
    }

    public static string PathOf(string id) =>
        id.StartsWith("real/", StringComparison.Ordinal) ? Fixtures.Real(id["real/".Length..])
        : id.StartsWith("oracle/", StringComparison.Ordinal) ? Fixtures.Oracle(id["oracle/".Length..])
        : Fixtures.Real("manifest.json"); // the placeholder: skips (or fails under CI) for want of fixtures

    /// <summary>
    /// The architecture JSON stored in the file itself, untouched: a <c>.h5</c>'s <c>model_config</c> attribute or a
    /// <c>.keras</c> archive's <c>config.json</c>, with the file's Keras version added; null for JSON files.
    /// </summary>
    public static string? StoredArchitecture(string path)
    {
        if (path.EndsWith(".keras", StringComparison.OrdinalIgnoreCase))
        {
            using var zip = ZipFile.OpenRead(path);
            var config = Read(zip, "config.json")!;
            var version = Read(zip, "metadata.json") is { } meta ? JsonNode.Parse(meta)?["keras_version"]?.GetValue<string>() : null;
            return WithVersion(config, version);
        }
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return null;
        using var h5 = PureHDF.H5File.OpenRead(path);
        var text = ReadString(h5, "model_config");
        return text is null ? null : WithVersion(text, ReadString(h5, "keras_version"));
    }

    private static string? ReadString(PureHDF.VOL.Native.NativeFile h5, string name)
    {
        if (!h5.AttributeExists(name)) return null;
        var a = h5.Attribute(name);
        return (a.Space.Type == PureHDF.H5DataspaceType.Scalar ? a.Read<string>() : a.Read<string[]>()[0]).TrimEnd('\0');
    }

    private static string? Read(ZipArchive zip, string entry)
    {
        var e = zip.GetEntry(entry);
        if (e is null) return null;
        using var reader = new StreamReader(e.Open());
        return reader.ReadToEnd();
    }

    private static string WithVersion(string json, string? version)
    {
        var root = JsonNode.Parse(json)!.AsObject();
        if (version is not null && !root.ContainsKey("keras_version")) root["keras_version"] = version;
        return root.ToJsonString();
    }
}
