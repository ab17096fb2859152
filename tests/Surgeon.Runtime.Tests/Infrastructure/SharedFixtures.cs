using System.Text.Json;

namespace Surgeon.Runtime.Tests.Infrastructure;

/// <summary>
/// The real model files in <c>../shared/fixtures/real</c> and the oracle models in <c>../shared/oracle/out</c>
/// (relative to the repository root). Absent in a user's clone: tests then skip with the reason; under CI
/// (<c>CI=true</c>) their absence fails the tests.
/// </summary>
public static class SharedFixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string SharedRoot => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string RealRoot => Path.Combine(SharedRoot, "fixtures", "real");

    public static string OracleRoot => Path.Combine(SharedRoot, "oracle", "out");

    private static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Skips the calling test (or fails it under CI) when <paramref name="folder"/> is absent.</summary>
    public static void Require(string folder)
    {
        if (Directory.Exists(folder)) return;
        if (IsCi) throw new InvalidOperationException($"Test fixtures are missing under CI: {folder}");
        Skip.If(true, $"Shared fixtures not found at {folder} (clone the steering repo's shared/ beside this repo to run these tests).");
    }

    /// <summary>One model fixture: how to load it and what the manifest says about it.</summary>
    public sealed record ModelFixture(string Id, string Path, string? WeightsPath, string Format, string? KerasVersion, IReadOnlyList<string> Layers)
    {
        public override string ToString() => Id;
    }

    /// <summary>Every model in the manifest (full HDF5, .keras, TensorFlow.js, architecture JSON + weights) and every oracle model.</summary>
    public static IReadOnlyList<ModelFixture> Models { get; } = LoadModels();

    /// <summary>xunit member data over <see cref="Models"/> (a placeholder row when fixtures are absent, so the theory can skip).</summary>
    public static TheoryData<string> ModelIds()
    {
        var data = new TheoryData<string>();
        foreach (var m in Models) data.Add(m.Id);
        if (Models.Count == 0) data.Add("<no fixtures>");
        return data;
    }

    public static ModelFixture Model(string id)
    {
        Require(RealRoot);
        Require(OracleRoot);
        return Models.First(m => m.Id == id);
    }

    private static IReadOnlyList<ModelFixture> LoadModels()
    {
        var result = new List<ModelFixture>();
        var manifest = Path.Combine(RealRoot, "manifest.json");
        if (File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            var entries = doc.RootElement.EnumerateArray().ToList();
            foreach (var e in entries)
            {
                var fixture = e.GetProperty("fixture").GetString()!;
                var format = e.GetProperty("format").GetString()!;
                var version = e.TryGetProperty("keras_version", out var kv) && kv.ValueKind == JsonValueKind.String ? kv.GetString() : null;
                var layers = e.TryGetProperty("layers", out var ls) && ls.ValueKind == JsonValueKind.Array
                    ? ls.EnumerateArray().Select(x => x.GetString()!).ToList() : new List<string>();
                var path = Path.Combine(RealRoot, fixture);
                switch (format)
                {
                    case "legacy-h5-full" or "keras3-zip (.keras)" or "tfjs layers model.json":
                        result.Add(new ModelFixture("real/" + fixture, path, null, format, version, layers));
                        break;
                    case "Keras model.to_json() architecture":
                        {
                            var dir = System.IO.Path.GetDirectoryName(fixture);
                            // Each architecture JSON sits beside exactly one weights-only file (its weights).
                            var candidates = entries.Select(x => x.GetProperty("fixture").GetString()!)
                                .Where(f => System.IO.Path.GetDirectoryName(f) == dir
                                    && entries.First(y => y.GetProperty("fixture").GetString() == f).GetProperty("format").GetString() == "weights-only-h5 (legacy)")
                                .ToList();
                            var weights = (F: candidates.Count == 1 ? candidates[0] : null, Fmt: (string?)null);
                            var weightsPath = weights.F is null ? null : Path.Combine(RealRoot, weights.F);
                            result.Add(new ModelFixture("real/" + fixture, path, weightsPath, format, version, layers));
                            break;
                        }
                }
            }
        }
        if (Directory.Exists(OracleRoot))
        {
            foreach (var dir in Directory.GetDirectories(OracleRoot).OrderBy(d => d, StringComparer.Ordinal))
            {
                var modelJson = Path.Combine(dir, "model.json");
                if (File.Exists(modelJson))
                    result.Add(new ModelFixture("oracle/" + Path.GetFileName(dir), modelJson, null, "tfjs layers model.json", null, Array.Empty<string>()));
            }
        }
        return result;
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Surgeon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Surgeon.sln) above " + AppContext.BaseDirectory);
    }
}
