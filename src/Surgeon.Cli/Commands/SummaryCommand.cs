using System.CommandLine;

namespace Surgeon.Cli.Commands;

/// <summary><c>surgeon summary MODEL [--json]</c>: the Keras-style summary of a model.</summary>
internal static class SummaryCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("summary", "Print a Keras-style summary: layers, output shapes, parameter counts.") { model, weights, json };
        command.SetAction(parse =>
        {
            using var m = CommonOptions.Load(parse, model, weights);
            var summary = ModelSummary.Of(m);
            stdout.Write(parse.GetValue(json) ? summary.ToJson() + Environment.NewLine : summary.ToString());
            return ExitCodes.Ok;
        });
        return command;
    }
}
