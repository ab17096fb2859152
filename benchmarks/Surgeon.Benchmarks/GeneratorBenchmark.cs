using System.Collections.Immutable;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using Surgeon.Generators;
using static Surgeon.Benchmarks.BenchmarkSupport;

namespace Surgeon.Benchmarks;

/// <summary>Options of the <c>generator</c> subcommand.</summary>
/// <param name="Repeat">Fresh child processes for the cold first run; the in-process measurements take 10x as many runs.</param>
/// <param name="Check">Exit with 1 when a goal is missed.</param>
/// <param name="Compiler">Also build a project with the SDK's compiler (csc, with and without its server) and read the
/// generator's time from <c>-p:ReportAnalyzer=true</c>.</param>
internal sealed record GeneratorOptions(int Repeat, bool Check, bool Compiler = false);

/// <summary>What one cold child measured, in milliseconds.</summary>
internal sealed record GeneratorChildResult(double FirstRunMs, int GeneratedLength);

/// <summary>Cached reruns, in milliseconds: the generator alone, a minimal generator in its place, the generator after it.</summary>
internal sealed record CachedTimes(List<double> Alone, List<double> Shared, List<double> Added, bool AllCached = false);

/// <summary>
/// The <c>generator</c> benchmark: what the Surgeon source generator adds to a compilation whose plan names a
/// 313-layer InceptionV3 architecture (<see cref="InceptionV3"/>), run through Roslyn's own
/// <see cref="CSharpGeneratorDriver"/> as the compiler runs it:
/// <list type="bullet">
/// <item>first run in a new process: fresh (Roslyn's code JIT-compiled on the way too, as the first build after the
/// compiler server starts), and with the compiler warm (Roslyn has compiled and run a generator before: the cost of
/// loading the Surgeon generator into a running compiler server);</item>
/// <item>first run, warm: a new driver on a new compilation in a process that has run it before, as a build or an IDE
/// edit that changes the model: parse the architecture, compute shapes and parameters, bind, emit;</item>
/// <item>cached rerun: the same driver after an unrelated edit (a method body in another file), as every keystroke in
/// the IDE; and split into what any [SurgeryPlan]-driven generator makes Roslyn do once per compilation (a minimal
/// generator run first) and what the Surgeon generator adds after it.</item>
/// </list>
/// </summary>
internal static class GeneratorBenchmark
{
    /// <summary>The first run must take less than this.</summary>
    public const double MaxFirstRunMs = 100;

    /// <summary>What the cached rerun may add to Roslyn's own per-compilation work: below a millisecond.</summary>
    public const double MaxCachedAddedMs = 1;

    public const string ChildOperation = "generator-cold";

    private const string ModelPath = "models/inception_v3.json";
    private const string ProjectDir = "/bench/";

    private const string PlanSource = """
        using Surgeon;

        namespace Bench;

        [SurgeryPlan("models/inception_v3.json")]
        [DeleteChannels("conv2d", 0, 1)]
        [DeleteChannels("conv2d_50", 5, 6, 7)]
        [DeleteChannels("predictions", 999)]
        public static partial class InceptionPlan
        {
            static partial void Configure(PlanBuilder plan) => plan.DeleteChannels(Layers.Conv2d93, 0);
        }
        """;

    private static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest, DocumentationMode.Parse);

    public static int Run(GeneratorOptions options)
    {
        var json = InceptionV3.ArchitectureJson();
        using (var model = KerasFile.CreateFromArchitecture(json, seed: 1))
        {
            if (model.Layers.Count != InceptionV3.LayerCount || model.ParameterCount != InceptionV3.ParameterCount)
                throw new InvalidOperationException($"InceptionV3 has {model.Layers.Count} layers and {model.ParameterCount:N0} parameters, not {InceptionV3.LayerCount} and {InceptionV3.ParameterCount:N0}.");
        }
        var dir = Path.Combine(Path.GetTempPath(), $"surgeon-bench-generator-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var jsonPath = Path.Combine(dir, "inception_v3.json");
        File.WriteAllText(jsonPath, json);
        try
        {
            var loadBefore = LoadAverage();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"InceptionV3: {InceptionV3.LayerCount} layers, {InceptionV3.ParameterCount:N0} parameters, architecture JSON {json.Length / 1024.0:F0} KiB"));

            var fresh = new List<double>();
            var compilerWarm = new List<double>();
            var generatedLength = 0;
            for (var r = 0; r < options.Repeat; r++)
            {
                var a = Child.Spawn<GeneratorChildResult>([ChildOperation, jsonPath, "fresh"], warmJit: false, "generator first run");
                var b = Child.Spawn<GeneratorChildResult>([ChildOperation, jsonPath, "compiler-warm"], warmJit: false, "generator first run");
                fresh.Add(a.FirstRunMs);
                compilerWarm.Add(b.FirstRunMs);
                generatedLength = b.GeneratedLength;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  first run in a new process {r + 1}/{options.Repeat}: {a.FirstRunMs,7:F1} ms fresh, {b.FirstRunMs,7:F1} ms with the compiler warm"));
            }

            var bench = new Bench(json);
            var runs = 10 * options.Repeat;
            for (var i = 0; i < 5; i++) bench.FirstRun();   // warm-up: JIT and tiering
            var warm = Enumerable.Range(0, runs).Select(_ => bench.FirstRun().Ms).ToList();
            var cached = bench.CachedReruns(runs);
            var loadAfter = LoadAverage();

            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Load average (1 min): {loadBefore} before, {loadAfter} after. Generated source: {generatedLength / 1024.0:F0} KiB."));
            Console.WriteLine();
            Console.WriteLine("| generator run, plan on a 313-layer InceptionV3 | runs | median ms | min ms | max ms |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            Row("first run, fresh process (Roslyn and the generator JIT-compiled)", fresh);
            Row("first run, compiler warm, generator's first run in the process", compilerWarm);
            Row("first run, warm process (new driver, new compilation)", warm);
            Row("cached rerun after an unrelated edit", cached.Alone);
            Row("  in its place: a minimal generator (the [SurgeryPlan] lookup only)", cached.Shared);
            Row("  cached rerun after that minimal generator, on the same compilation", cached.Added);
            if (options.Compiler)
            {
                Console.WriteLine();
                var noServer = RealCompiler(dir, json, options.Repeat, server: false);
                var withServer = RealCompiler(dir, json, options.Repeat, server: true);
                Console.WriteLine();
                Console.WriteLine("The SDK's own compiler building a project with that plan (the generator's time from -p:ReportAnalyzer=true):");
                Console.WriteLine();
                Console.WriteLine("| dotnet build of a project with the plan | builds | median ms | min ms | max ms |");
                Console.WriteLine("|---|---:|---:|---:|---:|");
                Row("csc without its server (a new compiler process per build)", noServer);
                Row("csc through its server, after a first build (each build a first run)", withServer);
            }
            Console.WriteLine();
            Console.WriteLine(cached.AllCached
                ? "Every cached rerun left all of the generator's outputs Cached or Unchanged (step tracking)."
                : "NOT ALL OUTPUTS WERE CACHED in the reruns (step tracking).");
            var failures = new List<string>();
            if (Median(compilerWarm) >= MaxFirstRunMs)
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"first run with the compiler warm {Median(compilerWarm):F1} ms >= {MaxFirstRunMs} ms"));
            if (Median(warm) >= MaxFirstRunMs) failures.Add(string.Create(CultureInfo.InvariantCulture, $"warm first run {Median(warm):F1} ms >= {MaxFirstRunMs} ms"));
            if (Median(cached.Added) >= MaxCachedAddedMs)
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"cached rerun adds {Median(cached.Added):F2} ms >= {MaxCachedAddedMs} ms"));
            if (!cached.AllCached) failures.Add("a cached rerun redid work");
            return Conclude(failures, options.Check);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Builds a project holding the plan and the architecture with <c>dotnet build</c> <paramref name="repeat"/> times
    /// (the plan touched before each), and returns the time the compiler reports for the Surgeon generator, in ms.
    /// With the server, one build before them starts it (and is not counted).
    /// </summary>
    private static List<double> RealCompiler(string dir, string json, int repeat, bool server)
    {
        var project = Path.Combine(dir, server ? "server" : "noserver");
        Directory.CreateDirectory(Path.Combine(project, "models"));
        File.WriteAllText(Path.Combine(project, ModelPath), json);
        File.WriteAllText(Path.Combine(project, "InceptionPlan.cs"), PlanSource);
        File.WriteAllText(Path.Combine(project, "Bench.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ReportAnalyzer>true</ReportAnalyzer>
              </PropertyGroup>
              <ItemGroup>
                <Analyzer Include="{typeof(SurgeonGenerator).Assembly.Location}" />
                <Reference Include="{typeof(SurgeryPlanAttribute).Assembly.Location}" />
                <Reference Include="{typeof(KerasModel).Assembly.Location}" />
                <Reference Include="{typeof(TorchSharp.torch).Assembly.Location}" />
                <AdditionalFiles Include="{ModelPath}" />
                <CompilerVisibleProperty Include="ProjectDir" />
              </ItemGroup>
            </Project>
            """);
        // A compiler server of this benchmark's own (a pipe name no other build uses), stopped at the end.
        var serverId = "surgeon-bench-" + Guid.NewGuid().ToString("N")[..12];
        var times = new List<double>();
        try
        {
            for (var i = server ? -1 : 0; i < repeat; i++)
            {
                File.SetLastWriteTimeUtc(Path.Combine(project, "InceptionPlan.cs"), DateTime.UtcNow);
                var info = new ProcessStartInfo("dotnet") { WorkingDirectory = project, RedirectStandardOutput = true, UseShellExecute = false };
                foreach (var a in new[] { "build", "-c", "Release", "-v:d", "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=" + (server ? "true" : "false"), "-p:SharedCompilationId=" + serverId })
                    info.ArgumentList.Add(a);
                using var process = Process.Start(info)!;
                var output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                var match = System.Text.RegularExpressions.Regex.Match(output, @"^\s*([0-9.]+)\s+\d+\s+Surgeon\.Generators\.SurgeonGenerator\s*$", System.Text.RegularExpressions.RegexOptions.Multiline);
                if (process.ExitCode != 0 || !match.Success)
                    throw new InvalidOperationException($"dotnet build of {project} failed or reported no generator time (exit code {process.ExitCode}).");
                var ms = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 1000;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  dotnet build, {(server ? "server" : "no server")}{(i < 0 ? " (starts it)" : "")}: generator {ms,6:F0} ms"));
                if (i >= 0) times.Add(ms);
            }
        }
        finally
        {
            if (server) StopCompilerServer(serverId);
        }
        return times;
    }

    /// <summary>Ends the compiler server started with pipe name <paramref name="pipe"/> (found by its command line).</summary>
    private static void StopCompilerServer(string pipe)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            string commandLine;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            if (!commandLine.Contains("-pipename:" + pipe, StringComparison.Ordinal)) continue;
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }
    }

    private static void Row(string label, List<double> values) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {label} | {values.Count} | {Median(values):F2} | {values.Min():F2} | {values.Max():F2} |"));

    /// <summary>
    /// The child: the first run of the generator in this process, timed alone (references and parsing before it).
    /// <paramref name="mode"/> <c>fresh</c>: nothing ran before; <c>compiler-warm</c>: Roslyn has bound and
    /// checked a compilation and run a minimal generator on another one, as in a compiler server that has built before.
    /// </summary>
    public static int ChildRun(string jsonPath, string mode)
    {
        var bench = new Bench(File.ReadAllText(jsonPath));
        if (mode == "compiler-warm") bench.WarmCompiler();
        else if (mode != "fresh") throw new ArgumentException($"unknown mode '{mode}'");
        var (ms, length) = bench.FirstRun();
        Console.Out.WriteLine(Child.ResultPrefix + JsonSerializer.Serialize(new GeneratorChildResult(ms, length)));
        return 0;
    }

    /// <summary>A compilation holding the plan and an unrelated file, with the architecture as an AdditionalFiles item.</summary>
    private sealed class Bench
    {
        private readonly ImmutableArray<MetadataReference> _references = References();
        private readonly AdditionalText[] _texts;
        private readonly Options _options = new();
        private readonly SyntaxTree _plan = CSharpSyntaxTree.ParseText(PlanSource, s_parse, path: ProjectDir + "InceptionPlan.cs");
        private readonly SyntaxTree _other = Other(0);

        public Bench(string json) => _texts = [new Text(ProjectDir + ModelPath, json)];

        /// <summary>Runs Roslyn's binder and the generator driver (with a minimal generator) on other compilations.</summary>
        public void WarmCompiler()
        {
            _ = Compilation(Other(-1)).GetDiagnostics();
            GeneratorDriver minimal = CSharpGeneratorDriver.Create([new MinimalGenerator().AsSourceGenerator()], _texts, s_parse, _options);
            minimal.RunGenerators(Compilation(Other(-2)));
        }

        /// <summary>A new compilation and a new driver: everything computed from scratch (syntax trees aside).</summary>
        public (double Ms, int Length) FirstRun()
        {
            var compilation = Compilation(_other);
            var driver = Driver(trackSteps: false);
            var start = Stopwatch.GetTimestamp();
            driver = driver.RunGenerators(compilation);
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            return (ms, Check(driver.GetRunResult()));
        }

        /// <summary>
        /// After one run, <paramref name="runs"/> edits of the unrelated file (after 5 untimed ones), each a new
        /// compilation: (a) the generator's cached rerun, the first generator to see that compilation; (b) on the next
        /// edits, a minimal generator that only looks up [SurgeryPlan] classes and the compilation runs first (the
        /// work Roslyn does once per compilation for any such generator), then the generator's rerun; plus a tracked
        /// driver that proves no output was recomputed.
        /// </summary>
        public CachedTimes CachedReruns(int runs)
        {
            var baseline = Compilation(_other);
            var alone = Driver(trackSteps: false).RunGenerators(baseline);
            var after = Driver(trackSteps: false).RunGenerators(baseline);
            GeneratorDriver minimal = CSharpGeneratorDriver.Create([new MinimalGenerator().AsSourceGenerator()], _texts, s_parse, _options);
            minimal = minimal.RunGenerators(baseline);
            var tracked = Driver(trackSteps: true).RunGenerators(baseline);
            var times = new CachedTimes([], [], []);
            var allCached = true;
            var previous = baseline;
            var k = 0;
            CSharpCompilation Edit()
            {
                var old = previous.SyntaxTrees.Single(t => t.FilePath.EndsWith("Other.cs", StringComparison.Ordinal));
                return previous = previous.ReplaceSyntaxTree(old, Other(++k));
            }
            for (var i = 0; i < runs + 5; i++)
            {
                var next = Edit();
                var ms = Time(ref alone, next);
                tracked = tracked.RunGenerators(next);
                allCached &= tracked.GetRunResult().Results.Single().TrackedOutputSteps
                    .SelectMany(s => s.Value).SelectMany(step => step.Outputs)
                    .All(o => o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged);
                next = Edit();
                var shared = Time(ref minimal, next);
                var added = Time(ref after, next);
                if (i < 5) continue;   // the first few warm up the rerun path
                times.Alone.Add(ms);
                times.Shared.Add(shared);
                times.Added.Add(added);
            }
            Check(alone.GetRunResult());
            Check(after.GetRunResult());
            return times with { AllCached = allCached };
        }

        private static double Time(ref GeneratorDriver driver, Compilation compilation)
        {
            var start = Stopwatch.GetTimestamp();
            driver = driver.RunGenerators(compilation);
            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        private CSharpCompilation Compilation(SyntaxTree other) =>
            CSharpCompilation.Create("Bench", [_plan, other], _references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        private GeneratorDriver Driver(bool trackSteps) =>
            CSharpGeneratorDriver.Create([new SurgeonGenerator().AsSourceGenerator()], _texts, s_parse, _options,
                new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

        private static SyntaxTree Other(int k) => CSharpSyntaxTree.ParseText(
            $$"""
            namespace Bench;

            internal static class Other
            {
                public static int Value() => {{k}};
            }
            """, s_parse, path: ProjectDir + "Other.cs");

        /// <summary>The plan must have been generated, with no diagnostic: returns the generated source's length.</summary>
        private static int Check(GeneratorDriverRunResult result)
        {
            var run = result.Results.Single();
            if (run.Exception is not null) throw new InvalidOperationException("The generator threw.", run.Exception);
            if (run.Diagnostics.Length > 0) throw new InvalidOperationException("The generator reported: " + string.Join("; ", run.Diagnostics));
            var source = run.GeneratedSources.Single();
            return source.SourceText.Length;
        }

        private static ImmutableArray<MetadataReference> References()
        {
            var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
            return paths
                .Where(p => Path.GetFileName(p) is var name && (name.StartsWith("System.", StringComparison.Ordinal) || name is "netstandard.dll" or "mscorlib.dll"))
                .Append(typeof(KerasModel).Assembly.Location)
                .Append(typeof(SurgeryPlanAttribute).Assembly.Location)
                .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
                .ToImmutableArray();
        }
    }

    /// <summary>The least an attribute-driven generator asks of each compilation: its [SurgeryPlan] classes.</summary>
    private sealed class MinimalGenerator : IIncrementalGenerator
    {
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var plans = context.SyntaxProvider.ForAttributeWithMetadataName("Surgeon.SurgeryPlanAttribute", static (_, _) => true, static (c, _) => c.TargetSymbol.Name);
            context.RegisterSourceOutput(plans, static (_, _) => { });
        }
    }

    private sealed class Text(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    /// <summary>The build properties the package hands the generator: the project directory.</summary>
    private sealed class Options : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Values(new Dictionary<string, string> { ["build_property.ProjectDir"] = ProjectDir });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Values.Empty;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Values.Empty;

        private sealed class Values(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public static readonly Values Empty = new(new Dictionary<string, string>());

            public override bool TryGetValue(string key, [NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
        }
    }
}
