using System.Text.Json;

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
    /// The architecture JSON stored in the file itself, as the Surgeon package's build step extracts it
    /// (Surgeon.ArchitectureTool): a <c>.h5</c>'s <c>model_config</c> attribute or a <c>.keras</c> archive's
    /// <c>config.json</c>, verbatim, with the file's Keras version added; null for JSON files.
    /// </summary>
    public static string? StoredArchitecture(string path) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? null : Fixtures.ExtractedArchitecture(path);
}
