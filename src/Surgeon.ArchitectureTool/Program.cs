namespace Surgeon.ArchitectureTool;

/// <summary>
/// <c>dotnet exec Surgeon.ArchitectureTool.dll MODEL OUTPUT [MODEL OUTPUT ...]</c>: writes the architecture JSON of
/// each Keras model file to its OUTPUT (only when the text changed, so an unchanged architecture leaves the compiler
/// nothing to redo). Failures are printed in MSBuild's canonical error format, naming the model file, so the Exec task
/// of build/Surgeon.targets reports them as build errors; every pair is attempted before the exit code says so.
/// </summary>
internal static class Program
{
    private const string Usage = "usage: Surgeon.ArchitectureTool MODEL OUTPUT [MODEL OUTPUT ...]";

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args.Length % 2 != 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        var failed = false;
        for (var i = 0; i < args.Length; i += 2)
        {
            var model = args[i];
            var output = args[i + 1];
            try
            {
                var json = ArchitectureExtractor.Extract(model);
                var written = OutputFile.WriteIfChanged(output, json);
                Console.WriteLine($"Surgeon: {model} -> {output} ({(written ? "written" : "unchanged")})");
            }
            catch (ExtractionException e)
            {
                failed = true;
                // "origin: error CODE: text" is what MSBuild's Exec task turns into an error naming the file.
                Console.WriteLine($"{Path.GetFullPath(model)}: error {e.Code}: Model file '{model}' {e.Message}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failed = true;
                Console.WriteLine($"{Path.GetFullPath(output)}: error {ExtractionException.Unreadable}: Cannot write the architecture of '{model}': {e.Message}");
            }
        }
        return failed ? 1 : 0;
    }
}
