using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace Surgeon.Benchmarks;

/// <summary>What one child process measured. Times in seconds, memory in KiB.</summary>
/// <param name="Seconds">Wall time of the operation alone (not process start-up or TorchSharp initialisation).</param>
/// <param name="LoadSeconds">First phase: <see cref="KerasFile.Load"/>, or the read (map) of a floor; 0 for a copy.</param>
/// <param name="SaveSeconds">Second phase: <see cref="KerasFile.Save"/>, or the write of a floor; 0 for a copy or a load.</param>
/// <param name="PeakRssKb">VmHWM at the end: the peak resident set size over the child's whole life.</param>
/// <param name="BaselineRssKb">VmRSS just before the operation (runtime, and libtorch when the operation needs it).</param>
/// <param name="AfterLoadRssKb">VmRSS right after the load or map (0 for a copy or a read+write floor).</param>
/// <param name="AfterLoadAnonKb">RssAnon right after the load: heap memory (tensors, managed heap).</param>
/// <param name="AfterLoadFileKb">RssFile right after the load: resident file-backed pages (libraries, mapped files).</param>
internal sealed record ChildResult(
    string Op,
    double Seconds,
    double LoadSeconds,
    double SaveSeconds,
    long PeakRssKb,
    long BaselineRssKb,
    long AfterLoadRssKb,
    long AfterLoadAnonKb,
    long AfterLoadFileKb);

/// <summary>
/// The hidden <c>__child</c> subcommand: runs one operation in this fresh process and prints one
/// <c>RESULT {json}</c> line, so that each measurement has its own VmHWM.
/// </summary>
internal static class Child
{
    public const string Command = "__child";
    public const string ResultPrefix = "RESULT ";

    /// <summary>Set to 1 to run the same load (and save) on a tiny VGG-shaped model before timing, so JIT compilation is excluded.</summary>
    public const string WarmJitVariable = "SURGEON_BENCH_WARM_JIT";

    /// <summary>
    /// Runs this executable as <c>__child ARGUMENTS</c> in a fresh process and parses its <c>RESULT</c> line;
    /// <paramref name="afterExit"/> runs once the child has exited (before its output is parsed).
    /// </summary>
    public static T Spawn<T>(IEnumerable<string> arguments, bool warmJit, string label, Action? afterExit = null) where T : class
    {
        var info = new ProcessStartInfo { RedirectStandardOutput = true, UseShellExecute = false };
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find this executable.");
        info.FileName = self;
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            info.ArgumentList.Add(Assembly.GetExecutingAssembly().Location); // run as 'dotnet Surgeon.Benchmarks.dll'
        }
        info.ArgumentList.Add(Command);
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment[WarmJitVariable] = warmJit ? "1" : "0";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Cannot start {self}.");
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        afterExit?.Invoke();
        var line = stdout.Split('\n').LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
            throw new InvalidOperationException($"Child '{label}' failed (exit code {process.ExitCode}):\n{stdout}");
        return JsonSerializer.Deserialize<T>(line[ResultPrefix.Length..])
            ?? throw new InvalidOperationException($"Child '{label}' printed no result.");
    }

    /// <summary><c>__child copy|readwrite|mapwrite|loadsave SRC DST</c> or <c>__child load SRC</c>.</summary>
    public static int Run(string[] args)
    {
        if (args.Length < 2) throw new ArgumentException("usage: __child copy|readwrite|mapwrite|load|loadsave SRC [DST]");
        var op = args[0];
        if (op.StartsWith("surgery-", StringComparison.Ordinal)) return SurgeryChild.Run(op, args[1], args.Length > 2 && args[2] == "scattered");
        if (op == GeneratorBenchmark.ChildOperation) return GeneratorBenchmark.ChildRun(args[1], args.Length > 2 ? args[2] : "fresh");
        var source = args[1];
        var target = args.Length > 2 ? args[2] : null;
        ChildResult result = op switch
        {
            "copy" => Copy(source, target ?? throw new ArgumentException("copy needs a target")),
            "readwrite" => ReadWrite(source, target ?? throw new ArgumentException("readwrite needs a target")),
            "mapwrite" => MapWrite(source, target ?? throw new ArgumentException("mapwrite needs a target")),
            "load" => LoadSave(op, source, null),
            "loadsave" => LoadSave(op, source, target ?? throw new ArgumentException("loadsave needs a target")),
            "loadsave-again" => LoadSaveAgain(source, target ?? throw new ArgumentException("loadsave-again needs a target")),
            _ => throw new ArgumentException($"unknown child operation '{op}'"),
        };
        Console.Out.WriteLine(ResultPrefix + JsonSerializer.Serialize(result));
        return 0;
    }

    private static ChildResult Copy(string source, string target)
    {
        var before = ProcStatus.Read();
        var watch = Stopwatch.StartNew();
        File.Copy(source, target, overwrite: false);
        var seconds = watch.Elapsed.TotalSeconds;
        var end = ProcStatus.Read();
        return new ChildResult("copy", seconds, 0, 0, end.PeakRssKb, before.RssKb, 0, 0, 0);
    }

    /// <summary>
    /// The floor for any loader that materialises the weights in memory: read the whole file into one fresh native
    /// buffer, then write that buffer to a new file. No parsing, no per-tensor work.
    /// </summary>
    private static unsafe ChildResult ReadWrite(string source, string target)
    {
        var before = ProcStatus.Read();
        var watch = Stopwatch.StartNew();
        using (var input = File.OpenHandle(source))
        {
            var length = RandomAccess.GetLength(input);
            if (length > int.MaxValue) throw new NotSupportedException("readwrite handles files up to 2 GiB.");
            var buffer = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)length);
            try
            {
                var span = new Span<byte>(buffer, (int)length);
                for (var read = 0; read < span.Length;)
                {
                    var n = RandomAccess.Read(input, span[read..], read);
                    if (n == 0) throw new EndOfStreamException(source);
                    read += n;
                }
                var loadSeconds = watch.Elapsed.TotalSeconds;
                using (var output = File.OpenHandle(target, FileMode.CreateNew, FileAccess.Write))
                {
                    RandomAccess.Write(output, span, 0);
                }
                var seconds = watch.Elapsed.TotalSeconds;
                var end = ProcStatus.Read();
                return new ChildResult("readwrite", seconds, loadSeconds, seconds - loadSeconds, end.PeakRssKb, before.RssKb, 0, 0, 0);
            }
            finally
            {
                System.Runtime.InteropServices.NativeMemory.Free(buffer);
            }
        }
    }

    /// <summary>
    /// The floor for a loader that maps the file instead of reading it: <c>torch.from_file</c> (a private, copy-on-write
    /// mmap of the whole file, as one byte tensor; weights would be views into it), then write those bytes to a new file.
    /// </summary>
    private static ChildResult MapWrite(string source, string target)
    {
        using (var warm = TorchSharp.torch.zeros(1)) { }
        var before = ProcStatus.Read();
        var watch = Stopwatch.StartNew();
        var length = new FileInfo(source).Length;
        using var mapped = TorchSharp.torch.from_file(source, shared: false, size: length, dtype: TorchSharp.torch.ScalarType.Byte);
        var loadSeconds = watch.Elapsed.TotalSeconds;
        var afterLoad = ProcStatus.Read();
        using (var output = File.OpenHandle(target, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(output, (ReadOnlySpan<byte>)mapped.bytes, 0);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        var end = ProcStatus.Read();
        return new ChildResult("mapwrite", seconds, loadSeconds, seconds - loadSeconds, end.PeakRssKb, before.RssKb,
            afterLoad.RssKb, afterLoad.RssAnonKb, afterLoad.RssFileKb);
    }

    /// <summary>Runs the measured code paths once on a tiny model of the same layer types, in the same format.</summary>
    private static void WarmJit(string source, bool save)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"surgeon-bench-warm-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, "tiny" + Path.GetExtension(source));
            using (var tiny = KerasFile.CreateFromArchitecture(Vgg16.ArchitectureJson(inputSize: 32, widthDivisor: 16, denseUnits: 16, classes: 10), seed: 2))
            {
                KerasFile.Save(tiny, file);
            }
            using var loaded = KerasFile.Load(file);
            if (save) KerasFile.Save(loaded, Path.Combine(dir, "resaved" + Path.GetExtension(source)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// The steady state of a long-lived process (a library user, or the second model a tool handles): one untimed
    /// load+save of the same file first, so JIT tiering and first-use initialisation are done, then the timed one.
    /// Peak RSS therefore covers two models' lifetimes one after the other (the first is disposed before the second).
    /// </summary>
    private static ChildResult LoadSaveAgain(string source, string target)
    {
        var first = target + ".first";
        LoadSave("loadsave", source, first);
        File.Delete(first);
        return LoadSave("loadsave-again", source, target);
    }

    private static ChildResult LoadSave(string op, string source, string? target)
    {
        // Initialise TorchSharp (loads libtorch) outside the timed region: it is a per-process constant.
        using (var warm = TorchSharp.torch.zeros(1)) { }
        if (Environment.GetEnvironmentVariable(WarmJitVariable) == "1") WarmJit(source, target is not null);
        var before = ProcStatus.Read();
        var watch = Stopwatch.StartNew();
        using var model = KerasFile.Load(source);
        var loadSeconds = watch.Elapsed.TotalSeconds;
        var afterLoad = ProcStatus.Read();
        double saveSeconds = 0;
        if (target is not null)
        {
            var saveStart = watch.Elapsed;
            KerasFile.Save(model, target);
            saveSeconds = (watch.Elapsed - saveStart).TotalSeconds;
        }
        var seconds = watch.Elapsed.TotalSeconds;
        if (model.ParameterCount != Vgg16.ParameterCount)
            throw new InvalidOperationException($"loaded {model.ParameterCount:N0} parameters, expected {Vgg16.ParameterCount:N0}");
        var end = ProcStatus.Read();
        return new ChildResult(op, seconds, loadSeconds, saveSeconds, end.PeakRssKb, before.RssKb,
            afterLoad.RssKb, afterLoad.RssAnonKb, afterLoad.RssFileKb);
    }
}
