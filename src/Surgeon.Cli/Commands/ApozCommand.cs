using System.CommandLine;
using System.Globalization;

namespace Surgeon.Cli.Commands;

/// <summary>
/// <c>surgeon apoz MODEL --input X.npy --layer NAME [--method std|absolute|both]</c>: prints each channel's APoZ
/// (average percentage of zeros after the layer's activation) over the samples in X and the channels high_apoz selects.
/// </summary>
internal static class ApozCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var input = new Option<string>("--input", "-i") { Description = "A .npy file of samples (first axis) for a single-input model.", Required = true };
        var layer = new Option<string>("--layer") { Description = "The layer whose channels to measure (at its activation).", Required = true };
        var method = new Option<string>("--method") { Description = "How high_apoz sets its cutoff: std (mean + k std), absolute, or both.", DefaultValueFactory = _ => "std" };
        method.AcceptOnlyFromAmong("std", "absolute", "both");
        var cutoffStd = new Option<double>("--cutoff-std") { Description = "k for --method std/both.", DefaultValueFactory = _ => 1.0 };
        var cutoffAbsolute = new Option<double>("--cutoff-absolute") { Description = "Cutoff for --method absolute/both.", DefaultValueFactory = _ => 0.99 };
        var batchSize = new Option<int>("--batch-size") { Description = "Samples per forward pass.", DefaultValueFactory = _ => 64 };
        var command = new Command("apoz", "Average percentage of zeros per channel of a layer, and the channels high_apoz selects.") { model, weights, input, layer, method, cutoffStd, cutoffAbsolute, batchSize };
        command.SetAction(parse =>
        {
            using var m = CommonOptions.Load(parse, model, weights);
            using var x = NpyFile.Read(parse.GetRequiredValue(input));
            var name = parse.GetRequiredValue(layer);
            var apoz = Apoz.Compute(m, name, x, parse.GetValue(batchSize));
            var how = parse.GetValue(method) switch { "absolute" => ApozMethod.Absolute, "both" => ApozMethod.Both, _ => ApozMethod.Std };
            var selected = Apoz.HighApoz(apoz, how, parse.GetValue(cutoffStd), parse.GetValue(cutoffAbsolute));
            var ci = CultureInfo.InvariantCulture;
            stdout.WriteLine($"APoZ of '{name}' at '{Apoz.FindActivationLayer(m, name)}' over {x.shape[0]} samples:");
            for (var c = 0; c < apoz.Length; c++) stdout.WriteLine(string.Create(ci, $"  {c,4}  {apoz[c]:F4}{(selected.Contains(c) ? "  *" : "")}"));
            stdout.WriteLine($"high_apoz ({how.ToString().ToLowerInvariant()}): {(selected.Length == 0 ? "none" : string.Join(",", selected))}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
