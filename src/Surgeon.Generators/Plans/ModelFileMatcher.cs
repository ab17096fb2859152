using System;
using System.Collections.Generic;
using System.Linq;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Plans;

/// <summary>
/// Finds the AdditionalFiles item that holds the architecture of a plan's model. The rule, in order (the first tier
/// with a match wins; within a tier the ordinally first path):
/// <list type="number">
/// <item>an item whose <c>SurgeonSourceModel</c> metadata is the model's path (set by the build step that extracts
/// the architecture of a <c>.h5</c>/<c>.keras</c> file);</item>
/// <item>an item whose path is the model's path, or the model's path + <c>.architecture.json</c>, the model's path
/// resolved against the project directory (<c>build_property.ProjectDir</c>) when it is relative;</item>
/// <item>for a relative model path: an item whose path ends with <c>/</c> + the model's path (or + that path +
/// <c>.architecture.json</c>), for builds that do not pass the project directory;</item>
/// <item>an item named the model's file name + <c>.architecture.json</c>, wherever it is (e.g. in <c>obj/</c>).</item>
/// </list>
/// Paths compare case-insensitively with <c>/</c> and <c>\</c> alike. Candidates are the AdditionalFiles items with
/// <c>SurgeonModel="true"</c> metadata or a <c>.json</c> extension.
/// </summary>
internal static class ModelFileMatcher
{
    public static ArchitectureResult? Find(ArchitectureCatalog catalog, string modelPath)
    {
        var relative = Normalize(modelPath);
        var rooted = IsRooted(relative);
        var resolved = !rooted && catalog.ProjectDirectory is { Length: > 0 } dir ? Normalize(dir.TrimEnd('/', '\\') + "/" + modelPath) : relative;
        var extracted = FileName(relative) + KnownNames.ArchitectureSuffix;
        var files = catalog.Files;

        return First(files.Where(f => f.SourceModel is { } source && Same(Normalize(source), resolved)))
            ?? First(files.Where(f => Same(Normalize(f.Path), resolved) || Same(Normalize(f.Path), resolved + KnownNames.ArchitectureSuffix)))
            ?? (rooted ? null : First(files.Where(f => EndsWith(Normalize(f.Path), "/" + relative) || EndsWith(Normalize(f.Path), "/" + relative + KnownNames.ArchitectureSuffix))))
            ?? First(files.Where(f => Same(FileName(Normalize(f.Path)), extracted)));
    }

    /// <summary>The file name an extracted architecture of <paramref name="modelPath"/> has.</summary>
    public static string ExtractedName(string modelPath) => FileName(Normalize(modelPath)) + KnownNames.ArchitectureSuffix;

    private static ArchitectureResult? First(IEnumerable<ArchitectureResult> matches) =>
        matches.OrderBy(f => f.Path, StringComparer.Ordinal).FirstOrDefault();

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static bool EndsWith(string path, string suffix) => path.EndsWith(suffix, StringComparison.OrdinalIgnoreCase);

    private static string FileName(string path) => path.Substring(path.LastIndexOf('/') + 1);

    private static bool IsRooted(string path) => path.StartsWith("/", StringComparison.Ordinal) || (path.Length >= 2 && path[1] == ':');

    /// <summary><c>/</c> separators, <c>.</c> and <c>..</c> segments resolved (no file system access).</summary>
    public static string Normalize(string path)
    {
        var p = path.Replace('\\', '/');
        var prefix = "";
        if (p.StartsWith("//", StringComparison.Ordinal)) prefix = "//";
        else if (p.StartsWith("/", StringComparison.Ordinal)) prefix = "/";
        var segments = new List<string>();
        foreach (var s in p.Substring(prefix.Length).Split('/'))
        {
            if (s.Length == 0 || s == ".") continue;
            if (s == ".." && segments.Count > 0 && segments[segments.Count - 1] != "..") segments.RemoveAt(segments.Count - 1);
            else segments.Add(s);
        }
        return prefix + string.Join("/", segments);
    }
}
