using System.CommandLine;

namespace Surgeon.Cli.Commands;

/// <summary><c>surgeon convert MODEL OUT</c>: rewrite a model in the Keras format OUT's extension names.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var output = new Argument<string>("OUT") { Description = "Output file: .keras for a Keras 3 archive, .h5 (or anything else) for legacy HDF5." };
        var command = new Command("convert", "Load a model in any supported format and save it as .h5 or .keras.") { model, output, weights };
        command.SetAction(parse =>
        {
            using var m = CommonOptions.Load(parse, model, weights);
            var path = parse.GetRequiredValue(output);
            KerasFile.Save(m, path);
            stdout.WriteLine($"Wrote {path} ({m.Layers.Count} layers, {m.ParameterCount:N0} parameters).");
            return ExitCodes.Ok;
        });
        return command;
    }
}
