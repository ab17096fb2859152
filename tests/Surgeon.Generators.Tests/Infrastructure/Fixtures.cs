using System.Text.Json.Nodes;

namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>
/// The real Keras files in ../shared/fixtures/real. Absent fixtures skip the test with the reason, or fail it under
/// CI=true.
/// </summary>
internal static class Fixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string RealRoot => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures", "real"));

    public static string OracleRoot => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "oracle", "out"));

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of fixture <paramref name="relative"/> (under fixtures/real), skipping the test when it is absent.</summary>
    public static string Real(string relative) => Require(Path.Combine(RealRoot, relative));

    /// <summary>The full path of an oracle output file, skipping the test when it is absent.</summary>
    public static string Oracle(string relative) => Require(Path.Combine(OracleRoot, relative));

    private static string Require(string path)
    {
        if (File.Exists(path)) return path;
        if (IsCi) throw new InvalidOperationException($"Test fixture missing under CI: {path}");
        Skip.If(true, $"Fixture not found at {path} (clone the shared/ folder beside this repository to run this test).");
        return path;
    }

    /// <summary>
    /// What the Surgeon package's build step writes as <c>&lt;file&gt;.architecture.json</c> for a <c>.h5</c> or
    /// <c>.keras</c> file: the stored config verbatim with the file's Keras version added, by the build step's own
    /// extractor (Surgeon.ArchitectureTool).
    /// </summary>
    public static string ExtractedArchitecture(string path) => Surgeon.ArchitectureTool.ArchitectureExtractor.Extract(path);

    /// <summary>
    /// The architecture JSON of a model file as Surgeon.Runtime re-serialises it: a <c>.json</c> file verbatim; for a
    /// <c>.h5</c> or <c>.keras</c> file, <see cref="KerasModel.ToJson"/> with the file's Keras version added. The
    /// generator must read it as it reads <see cref="ExtractedArchitecture"/> (a model the runtime wrote back).
    /// </summary>
    public static string ArchitectureJson(string path)
    {
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return File.ReadAllText(path);
        using var model = KerasFile.Load(path);
        var root = JsonNode.Parse(model.ToJson())!.AsObject();
        if (!root.ContainsKey("keras_version") && model.Source.KerasVersion is { } version) root["keras_version"] = version;
        return root.ToJsonString();
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Surgeon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Surgeon.sln) above " + AppContext.BaseDirectory);
    }
}
