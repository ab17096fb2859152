using System.CommandLine;

namespace Surgeon.Cli.Commands;

/// <summary>
/// <c>surgeon roundtrip MODEL</c>: load a model, print its summary, save it as .h5 and .keras, load both back and
/// check they equal the original (architecture JSON and bit-identical weights).
/// </summary>
internal static class RoundTripCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var outDir = new Option<string?>("--out-dir") { Description = "Keep the written files in this folder (default: a temporary folder, deleted)." };
        var command = new Command("roundtrip", "Load a model, save it in both Keras formats, reload and check nothing changed.") { model, weights, outDir };
        command.SetAction(parse =>
        {
            using var original = CommonOptions.Load(parse, model, weights);
            stdout.Write(ModelSummary.Of(original).ToString());
            var keep = parse.GetValue(outDir);
            var dir = keep ?? Path.Combine(Path.GetTempPath(), "surgeon-roundtrip-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var failures = 0;
            try
            {
                foreach (var name in new[] { "model.h5", "model.keras" })
                {
                    var path = Path.Combine(dir, name);
                    KerasFile.Save(original, path);
                    using var reloaded = KerasFile.Load(path);
                    // A .keras file always holds the Keras 3 dialect: a model read from a Keras 2 file keeps its graph and weights.
                    var mode = name.EndsWith(".keras", StringComparison.Ordinal) && original.Dialect != KerasDialect.Keras3
                        ? ComparisonMode.Graph : ComparisonMode.Exact;
                    var difference = ModelComparison.FindDifference(original, reloaded, mode);
                    var same = mode == ComparisonMode.Exact ? "identical" : "same graph and bit-identical weights (config converted to the Keras 3 dialect)";
                    stdout.WriteLine(difference is null
                        ? $"{name}: saved ({new FileInfo(path).Length:N0} bytes), reloaded, {same}."
                        : $"{name}: DIFFERS after reload: {difference}.");
                    if (difference is not null) failures++;
                }
            }
            finally
            {
                if (keep is null) Directory.Delete(dir, recursive: true);
            }
            return failures == 0 ? ExitCodes.Ok : ExitCodes.InternalError;
        });
        return command;
    }
}
