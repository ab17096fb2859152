using System.CommandLine;

namespace Surgeon.Cli.Commands;

/// <summary>Arguments and options several commands share.</summary>
internal static class CommonOptions
{
    public static Argument<string> Model() => new("MODEL")
    {
        Description = "Model file (.h5, .keras, architecture .json, TensorFlow.js model.json) or TensorFlow.js folder.",
    };

    public static Option<string?> Weights() => new("--weights")
    {
        Description = "Weights-only HDF5 file, for a MODEL that is an architecture JSON.",
    };

    /// <summary><c>--output/-o</c>: the model file a surgery command writes.</summary>
    public static Option<string> OutputModel() => new("--output", "-o") { Description = "Output file (.h5 or .keras).", Required = true };

    public static KerasModel Load(ParseResult parse, Argument<string> model, Option<string?> weights) =>
        KerasFile.Load(parse.GetRequiredValue(model), new LoadOptions { WeightsPath = parse.GetValue(weights) });
}
