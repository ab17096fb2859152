using System.Reflection;
using System.Xml.Linq;

namespace Surgeon.Package.Tests.Infrastructure;

/// <summary>Where the repository is, and what this test assembly was built with.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>The configuration this assembly (and so the solution it was built with) was built in.</summary>
    public static string Configuration { get; } =
        typeof(Repo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SurgeonConfiguration").Value!;

    public static string Path(params string[] parts) => System.IO.Path.Combine(new[] { Root }.Concat(parts).ToArray());

    /// <summary>A package's version in Directory.Packages.props.</summary>
    public static string PackageVersion(string id) =>
        XDocument.Load(Path("Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == id).Attribute("Version")!.Value;

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Surgeon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Surgeon.sln) above " + AppContext.BaseDirectory);
    }
}
