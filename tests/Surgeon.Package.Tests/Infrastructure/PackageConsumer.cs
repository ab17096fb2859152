using System.Text.RegularExpressions;

namespace Surgeon.Package.Tests.Infrastructure;

/// <summary>
/// A console project outside the repository that uses the Surgeon package as a user would: the package is packed from
/// this build (<c>dotnet pack --no-build</c>, with a version of its own so no cached package stands in for it) into a
/// temporary feed, restored into a temporary packages folder (TorchSharp and libtorch come from the machine's NuGet
/// cache as a fallback folder, so nothing is downloaded or copied), and built with <c>dotnet build</c>. Its plan
/// names <c>models/lenet.h5</c>, a copy of samples/models/lenet.h5. Everything is deleted at the end.
/// </summary>
public sealed partial class PackageConsumer : IDisposable
{
    public const string PlanName = "LeNetPlan";

    private const string ProjectFile = """
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>enable</ImplicitUsings>
            <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
            <EmitCompilerGeneratedFiles>true</EmitCompilerGeneratedFiles>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="Surgeon" Version="$(SurgeonTestVersion)" />
            <PackageReference Include="libtorch-cpu-linux-x64" Version="$(LibTorchVersion)" />
            <SurgeonModel Include="models/lenet.h5" />
            <SurgeonModel Include="models/*.json" />
          </ItemGroup>
        </Project>
        """;

    private const string PlanSource = """
        using Surgeon;

        namespace App;

        [SurgeryPlan("models/lenet.h5")]
        [DeleteChannels("conv2d_Conv2D1", 1, 2)]
        [DeleteChannels("dense_Dense1", 0, 100)]
        public static partial class LeNetPlan
        {
            // Chosen at run time: the last filter of conv2d_Conv2D2, whatever its count in the loaded model.
            static partial void Configure(PlanBuilder plan) =>
                plan.DeleteChannels(Layers.Conv2dConv2D2, Layers.Conv2dConv2D2.ChannelCount - 1);
        }
        """;

    private const string ProgramSource = """
        using System.Globalization;
        using Surgeon;
        using App;

        // App MODEL OUTPUT: runs LeNetPlan on MODEL, prints what a test checks, saves the result to OUTPUT.
        using var model = KerasFile.Load(args[0]);
        using var result = LeNetPlan.Run(model);
        Console.WriteLine($"fingerprint {LeNetPlan.Fingerprint}");
        foreach (var handle in LeNetPlan.Layers.All.OfType<ChannelLayerHandle>())
            Console.WriteLine($"channels {handle.Name} {handle.ChannelCount} {LayerChannels.Count(handle.In(result.Model))}");
        Console.WriteLine($"parameters {model.ParameterCount} {result.Model.ParameterCount}");
        Console.WriteLine($"difference {result.MaxDifference(model).ToString("R", CultureInfo.InvariantCulture)}");
        KerasFile.Save(result.Model, args[1]);
        """;

    public PackageConsumer()
    {
        Root = Path.Combine(Path.GetTempPath(), "surgeon-e2e-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Root);
        try
        {
            Version = "0.0.0-e2e." + Guid.NewGuid().ToString("N")[..12];
            var feed = Path.Combine(Root, "feed");
            Pack = Dotnet.Run(Repo.Root, "pack", Repo.Path("src", "Surgeon.Package", "Surgeon.Package.csproj"), "-c", Repo.Configuration,
                "--no-build", "-o", feed, "-p:PackageVersion=" + Version, "-nodeReuse:false", "-nologo");
            if (Pack.ExitCode != 0) throw new InvalidOperationException("dotnet pack failed: " + Pack);
            NupkgPath = Path.Combine(feed, $"Surgeon.{Version}.nupkg");

            var cache = Dotnet.Run(Root, "nuget", "locals", "global-packages", "--list");
            var fallback = Regex.Match(cache.Output, @"global-packages:\s*(\S.*)").Groups[1].Value.Trim();
            if (fallback.Length == 0) throw new InvalidOperationException("Cannot find the NuGet global packages folder: " + cache);
            File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <config>
                    <add key="globalPackagesFolder" value="packages" />
                  </config>
                  <packageSources>
                    <clear />
                    <add key="feed" value="feed" />
                  </packageSources>
                  <fallbackPackageFolders>
                    <clear />
                    <add key="machine" value="{fallback}" />
                  </fallbackPackageFolders>
                </configuration>
                """);

            ProjectDir = Path.Combine(Root, "App");
            Directory.CreateDirectory(Path.Combine(ProjectDir, "models"));
            OriginalModel = Path.Combine(Root, "lenet.h5");
            File.Copy(Repo.Path("samples", "models", "lenet.h5"), OriginalModel);
            File.WriteAllText(Path.Combine(ProjectDir, "App.csproj"), ProjectFile
                .Replace("$(SurgeonTestVersion)", Version, StringComparison.Ordinal)
                .Replace("$(LibTorchVersion)", Repo.PackageVersion("libtorch-cpu-linux-x64"), StringComparison.Ordinal));
            File.WriteAllText(Path.Combine(ProjectDir, "LeNetPlan.cs"), PlanSource);
            File.WriteAllText(Path.Combine(ProjectDir, "Program.cs"), ProgramSource);
            File.Copy(OriginalModel, ModelPath);

            FirstBuild = Build();
            if (FirstBuild.ExitCode != 0) throw new InvalidOperationException("The first build failed: " + FirstBuild);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Root { get; }

    public string Version { get; }

    public Dotnet.Result Pack { get; }

    public string NupkgPath { get; }

    public string ProjectDir { get; }

    /// <summary>The untouched copy of samples/models/lenet.h5.</summary>
    public string OriginalModel { get; }

    /// <summary>The model the plan names, inside the project.</summary>
    public string ModelPath => Path.Combine(ProjectDir, "models", "lenet.h5");

    public Dotnet.Result FirstBuild { get; }

    private string Intermediate => Path.Combine(ProjectDir, "obj", "Release", "net10.0");

    /// <summary>The architecture the build step extracted from <see cref="ModelPath"/>.</summary>
    public string ArchitectureFile => Path.Combine(Intermediate, "surgeon", "models", "lenet.h5.architecture.json");

    public string StampFile => ArchitectureFile + ".stamp";

    public string AppAssembly => Path.Combine(ProjectDir, "bin", "Release", "net10.0", "App.dll");

    private string GeneratedPlan => Path.Combine(Intermediate, "generated", "Surgeon.Generators", "Surgeon.Generators.SurgeonGenerator", "App.LeNetPlan.Surgeon.g.cs");

    /// <summary><c>dotnet build -c Release</c> at normal verbosity (which shows each target skipped or run).</summary>
    public Dotnet.Result Build() => Dotnet.Run(ProjectDir, "build", "-c", "Release", "-nodeReuse:false", "-v:n", "-nologo");

    /// <summary>Runs the built program on <paramref name="model"/>, saving its result to <paramref name="output"/>.</summary>
    public Dotnet.Result RunApp(string model, string output) => Dotnet.Run(ProjectDir, AppAssembly, model, output);

    /// <summary>The <c>Fingerprint</c> constant of the plan's generated source, as last compiled.</summary>
    public string GeneratedFingerprint()
    {
        var source = File.ReadAllText(GeneratedPlan);
        return FingerprintConstant().Match(source) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException("No Fingerprint in " + GeneratedPlan);
    }

    /// <summary>Puts the project back as it was made: the original model, no extra files.</summary>
    public void Reset()
    {
        File.Copy(OriginalModel, ModelPath, overwrite: true);
        // Newer than any stamp, whatever File.Copy did with the timestamp: the next build reads it again.
        File.SetLastWriteTimeUtc(ModelPath, DateTime.UtcNow.AddSeconds(1));
        foreach (var extra in Directory.GetFiles(Path.Combine(ProjectDir, "models")).Where(f => Path.GetFileName(f) != "lenet.h5")) File.Delete(extra);
        foreach (var extra in Directory.GetFiles(ProjectDir, "*.cs").Where(f => Path.GetFileName(f) is not ("LeNetPlan.cs" or "Program.cs"))) File.Delete(extra);
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A process still holding a file; the temporary folder is left for the system to clean.
        }
    }

    [GeneratedRegex("public const string Fingerprint = \"([0-9a-f]+)\";")]
    private static partial Regex FingerprintConstant();
}
