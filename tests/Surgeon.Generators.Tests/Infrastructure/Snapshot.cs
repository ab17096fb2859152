using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Surgeon.Generators.Tests.Infrastructure;

/// <summary>
/// Approved-file snapshots of generated source, without Verify (style-anchors section 8.2). Baselines live in
/// <c>Snapshots/&lt;TestClass&gt;/&lt;TestName&gt;/&lt;HintName&gt;.txt</c> in the source tree. Text is normalised
/// (LF, no trailing whitespace, generator version replaced by <c>VERSION</c>) before comparing and writing. The set of
/// files must match exactly. On a mismatch <c>&lt;name&gt;.received.txt</c> is written beside the baseline and the
/// test fails with the first differing line. Update mode (<c>dotnet test -p:UpdateSnapshots=true</c>, or
/// <c>SURGEON_UPDATE_SNAPSHOTS=1</c>) rewrites baselines and deletes stale ones; it refuses to run when <c>CI=true</c>.
/// </summary>
public static partial class Snapshot
{
    public static bool UpdateMode
    {
        get
        {
#if UPDATE_SNAPSHOTS
            var update = true;
#else
            var update = Environment.GetEnvironmentVariable("SURGEON_UPDATE_SNAPSHOTS") == "1";
#endif
            if (update && Fixtures.IsCi)
                throw new InvalidOperationException("Snapshot update mode is refused under CI=true: a green CI must mean the snapshots were compared.");
            return update;
        }
    }

    /// <summary>Compares <paramref name="files"/> (name to content) with the approved snapshots of the calling test.</summary>
    public static void Match(IReadOnlyDictionary<string, string> files, string? name = null,
        [CallerMemberName] string test = "", [CallerFilePath] string callerFile = "")
    {
        var testClass = Path.GetFileNameWithoutExtension(callerFile);
        var folder = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots", testClass, name ?? test);
        var expectedNames = files.Keys.Select(k => k + ".txt").ToHashSet(StringComparer.Ordinal);
        if (UpdateMode)
        {
            Directory.CreateDirectory(folder);
            foreach (var stale in Directory.GetFiles(folder, "*.txt").Where(f => !expectedNames.Contains(Path.GetFileName(f))))
                File.Delete(stale);
            foreach (var (file, text) in files)
                File.WriteAllText(Path.Combine(folder, file + ".txt"), Normalize(text), new UTF8Encoding(false));
            return;
        }
        var approved = Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*.txt").Select(Path.GetFileName).Where(f => !f!.EndsWith(".received.txt", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string?>();
        var missing = expectedNames.Where(n => !approved.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var extra = approved.Where(n => !expectedNames.Contains(n!)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        foreach (var (file, text) in files.Where(f => missing.Contains(f.Key + ".txt")))
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, file + ".received.txt"), Normalize(text), new UTF8Encoding(false));
        }
        if (missing.Count > 0 || extra.Count > 0)
        {
            Assert.Fail($"Snapshot files in {folder} differ from the generated set. Missing: [{string.Join(", ", missing)}]; not generated: [{string.Join(", ", extra)}]. " +
                "Review the .received.txt files, then run with -p:UpdateSnapshots=true to approve.");
        }
        foreach (var (file, text) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var path = Path.Combine(folder, file + ".txt");
            var expected = Normalize(File.ReadAllText(path));
            var actual = Normalize(text);
            var received = Path.Combine(folder, file + ".received.txt");
            if (expected == actual)
            {
                if (File.Exists(received)) File.Delete(received);
                continue;
            }
            File.WriteAllText(received, actual, new UTF8Encoding(false));
            Assert.Fail($"Snapshot {path} differs: {FirstDifference(expected, actual)}\nReceived text written to {received}; approve with -p:UpdateSnapshots=true.");
        }
    }

    /// <summary>LF line ends, no trailing whitespace, the generator version scrubbed, one final newline.</summary>
    public static string Normalize(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd());
        var joined = string.Join("\n", lines).TrimEnd('\n') + "\n";
        return VersionPattern().Replace(joined, "GeneratedCode(\"Surgeon.Generators\", \"VERSION\")");
    }

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        var line = 0;
        while (line < e.Length && line < a.Length && e[line] == a[line]) line++;
        string Context(string[] lines) => string.Join("\n", lines.Skip(Math.Max(0, line - 1)).Take(3).Select((l, i) => $"  {Math.Max(0, line - 1) + i + 1}: {l}"));
        return $"first difference at line {line + 1}.\nApproved:\n{Context(e)}\nReceived:\n{Context(a)}";
    }

    [GeneratedRegex("GeneratedCode\\(\"Surgeon\\.Generators\", \"[^\"]*\"\\)")]
    private static partial Regex VersionPattern();
}
