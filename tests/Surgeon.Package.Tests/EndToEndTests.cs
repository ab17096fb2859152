using System.Globalization;
using System.IO.Compression;
using Surgeon.Package.Tests.Infrastructure;

namespace Surgeon.Package.Tests;

/// <summary>
/// The Surgeon package end to end: a project outside the repository that references the packed package and lists a
/// .h5 model builds with <c>dotnet build</c>, its plan runs on the real model, and later builds follow the model file
/// (<see cref="PackageConsumer"/>). The tests of this class share that project and run one after another; each that
/// changes it puts it back first.
/// </summary>
public sealed class EndToEndTests(PackageConsumer app) : IClassFixture<PackageConsumer>
{
    [Fact]
    public void Package_HasTheRuntimeAttributesGeneratorToolAndBuildFiles_AndNoLibtorchDependency()
    {
        using var zip = ZipFile.OpenRead(app.NupkgPath);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);

        foreach (var expected in new[]
                 {
                     "lib/net8.0/Surgeon.Runtime.dll", "lib/net8.0/Surgeon.Runtime.xml", "lib/net8.0/Surgeon.Attributes.dll",
                     "analyzers/dotnet/cs/Surgeon.Generators.dll",
                     "tools/net8.0/Surgeon.ArchitectureTool.dll", "tools/net8.0/Surgeon.ArchitectureTool.runtimeconfig.json", "tools/net8.0/PureHDF.dll",
                     "build/Surgeon.props", "build/Surgeon.targets", "buildTransitive/Surgeon.props", "buildTransitive/Surgeon.targets",
                     "build/Surgeon.TorchSharp.targets", "build/torchsharp-debian12/fix-libtorchsharp.sh",
                     "build/torchsharp-debian12/glibcxx_shim.cpp", "build/torchsharp-debian12/elf_weak_verneed.c",
                 })
        {
            Assert.True(entries.Contains(expected), $"{expected} is missing from the package; it has: {string.Join(", ", entries.Order())}");
        }
        // Neither the packaging project's empty assembly nor TorchSharp itself is shipped inside.
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) && !e.StartsWith("lib/net8.0/Surgeon.Runtime.", StringComparison.Ordinal) && !e.StartsWith("lib/net8.0/Surgeon.Attributes.", StringComparison.Ordinal));

        using var nuspec = new StreamReader(zip.GetEntry("Surgeon.nuspec")!.Open());
        var dependencies = System.Xml.Linq.XDocument.Parse(nuspec.ReadToEnd()).Descendants()
            .Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { "PureHDF", "System.IO.Hashing", "TorchSharp" }, dependencies);
    }

    [Fact]
    public void FirstBuild_ExtractsTheArchitecture_AndCompilesThePlanAgainstIt()
    {
        Assert.Contains("(written)", app.FirstBuild.Output);
        Assert.Contains(" 0 Warning(s)", app.FirstBuild.Output);
        var architecture = File.ReadAllText(app.ArchitectureFile);
        Assert.StartsWith("{\"class_name\":\"Sequential\",\"config\":{\"name\":\"sequential_1\"", architecture);
        Assert.EndsWith(", \"keras_version\": \"tfjs-layers 4.22.0\"}", architecture);

        using var model = KerasFile.Load(app.OriginalModel);
        Assert.Equal(model.ArchitectureFingerprint, app.GeneratedFingerprint());
    }

    [Fact]
    public void Plan_RunsOnTheRealModel_AndEqualsTheMaskedOriginal()
    {
        app.Reset();
        Assert.Equal(0, app.Build().ExitCode);
        var output = Path.Combine(app.Root, "pruned.h5");

        var run = app.RunApp(app.ModelPath, output);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        using var model = KerasFile.Load(app.OriginalModel);
        Assert.Contains($"fingerprint {model.ArchitectureFingerprint}", lines);
        // Declared: conv2d_Conv2D1 loses 2 of 6, dense_Dense1 2 of 120; Configure: conv2d_Conv2D2 its last of 16.
        Assert.Contains("channels conv2d_Conv2D1 6 4", lines);
        Assert.Contains("channels conv2d_Conv2D2 16 15", lines);
        Assert.Contains("channels dense_Dense1 120 118", lines);
        Assert.Contains("channels dense_Dense2 10 10", lines);
        var difference = double.Parse(lines.Single(l => l.StartsWith("difference ", StringComparison.Ordinal))["difference ".Length..], CultureInfo.InvariantCulture);
        Assert.True(difference <= 1e-5, $"the pruned model differs from the masked original by {difference}");

        // What the program saved, read back here: the deletions are in the file, and the file's parameter count is the run's.
        using var saved = KerasFile.Load(output);
        Assert.Equal(4, LayerChannels.Count(saved["conv2d_Conv2D1"]));
        Assert.Equal(15, LayerChannels.Count(saved["conv2d_Conv2D2"]));
        Assert.Equal(118, LayerChannels.Count(saved["dense_Dense1"]));
        Assert.Contains($"parameters {model.ParameterCount} {saved.ParameterCount}", lines);
        Assert.True(saved.ParameterCount < model.ParameterCount);
    }

    [Fact]
    public void IncrementalBuilds_FollowTheModelFile()
    {
        app.Reset();
        Assert.Equal(0, app.Build().ExitCode);
        var architecture = File.GetLastWriteTimeUtc(app.ArchitectureFile);
        var stamp = File.GetLastWriteTimeUtc(app.StampFile);
        var assembly = File.GetLastWriteTimeUtc(app.AppAssembly);

        // Unchanged model: the extraction does not run, nor does the compiler.
        var unchanged = app.Build();
        Assert.True(unchanged.ExitCode == 0, unchanged.ToString());
        Assert.Contains("Skipping target \"SurgeonExtractArchitectures\" because all output files are up-to-date", unchanged.Output);
        Assert.DoesNotContain("Surgeon: ", unchanged.Output);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(app.StampFile));
        Assert.Equal(assembly, File.GetLastWriteTimeUtc(app.AppAssembly));

        // Touched model (e.g. retrained, same architecture): extracted again, the same text, so nothing to recompile.
        Thread.Sleep(20);
        File.SetLastWriteTimeUtc(app.ModelPath, DateTime.UtcNow);
        var touched = app.Build();
        Assert.True(touched.ExitCode == 0, touched.ToString());
        Assert.Contains("lenet.h5.architecture.json (unchanged)", touched.Output);
        Assert.True(File.GetLastWriteTimeUtc(app.StampFile) > stamp);
        Assert.Equal(architecture, File.GetLastWriteTimeUtc(app.ArchitectureFile));
        Assert.Contains("Skipping target \"CoreCompile\"", touched.Output);
        Assert.Equal(assembly, File.GetLastWriteTimeUtc(app.AppAssembly));

        // Another architecture in the same file (a pruned LeNet): extracted, regenerated, compiled with its fingerprint.
        using var original = KerasFile.Load(app.OriginalModel);
        using var pruned = Surgery.DeleteChannels(original, "conv2d_Conv2D2", new[] { 3 });
        KerasFile.Save(pruned, app.ModelPath);
        var changed = app.Build();
        Assert.True(changed.ExitCode == 0, changed.ToString());
        Assert.Contains("lenet.h5.architecture.json (written)", changed.Output);
        Assert.Equal(pruned.ArchitectureFingerprint, app.GeneratedFingerprint());
        Assert.NotEqual(original.ArchitectureFingerprint, pruned.ArchitectureFingerprint);
        Assert.True(File.GetLastWriteTimeUtc(app.AppAssembly) > assembly);
    }

    [Fact]
    public void ExecutableWithoutLibtorch_GetsSRG102()
    {
        // As if the project referenced no libtorch package (each sets TorchSharpCpuPackage or TorchSharpCudaPackage).
        var result = Dotnet.Run(app.ProjectDir, "msbuild", "-t:ResolvePackageAssets", "-p:Configuration=Release", "-p:TorchSharpCpuPackage=false",
            "-nodeReuse:false", "-nologo", "-v:m");

        Assert.Contains("warning SRG102: No libtorch backend is referenced", result.Output);
    }

    [Fact]
    public void BrokenModels_AreBuildErrorsNamingTheFile()
    {
        app.Reset();

        // Truncated .h5: the build step refuses it (SRG101).
        File.WriteAllBytes(app.ModelPath, File.ReadAllBytes(app.OriginalModel)[..3000]);
        var truncated = app.Build();
        Assert.NotEqual(0, truncated.ExitCode);
        Assert.Contains($"{app.ModelPath} : error SRG101: Model file '{app.ModelPath}' is truncated", truncated.Output);

        // Missing: SRG100.
        File.Delete(app.ModelPath);
        var missing = app.Build();
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains($"{app.ModelPath} : error SRG100: Model file '{app.ModelPath}' does not exist", missing.Output);

        // A .json model the generator reads as it is: a malformed one is SRG004; a plan on an unlisted model is SRG003.
        app.Reset();
        File.WriteAllText(Path.Combine(app.ProjectDir, "models", "broken.json"), "{\"class_name\": \"Sequential\",\n \"config\": [1, 2,]}");
        File.WriteAllText(Path.Combine(app.ProjectDir, "MorePlans.cs"), """
            using Surgeon;
            namespace App;
            [SurgeryPlan("models/broken.json")]
            public static partial class BrokenPlan { }
            [SurgeryPlan("models/unlisted.h5")]
            public static partial class UnlistedPlan { }
            """);
        var json = app.Build();
        Assert.NotEqual(0, json.ExitCode);
        Assert.Contains("error SRG004: The architecture of model 'models/broken.json' ('broken.json') cannot be read: it is not valid JSON: unexpected character ']' (line 2, column 18)", json.Output);
        Assert.Contains("error SRG003: Model 'models/unlisted.h5' of surgery plan 'App.UnlistedPlan' is not among the AdditionalFiles", json.Output);
        app.Reset();
    }
}
