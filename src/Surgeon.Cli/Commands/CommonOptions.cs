using System.CommandLine;
using System.Globalization;

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

    /// <summary><c>--nodes</c>: for a shared layer, the calls (Keras node indices) a job applies to.</summary>
    public static Option<string?> Nodes() => new("--nodes") { Description = "For a layer called several times (shared), the calls to change as comma-separated node indices, e.g. 1 or 0,2. Default: every call." };

    /// <summary>A comma-separated list of integers given to <paramref name="option"/> (null when absent).</summary>
    public static int[]? Ints(ParseResult parse, Option<string?> option) => parse.GetValue(option) is { } text ? Ints(text, option.Name) : null;

    public static int[] Ints(string text, string option) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new SurgeonException($"{option}: '{c}' is not an integer."))
            .ToArray();

    public static KerasModel Load(ParseResult parse, Argument<string> model, Option<string?> weights) =>
        KerasFile.Load(parse.GetRequiredValue(model), new LoadOptions { WeightsPath = parse.GetValue(weights) });
}
