using System.CommandLine;

namespace Surgeon.Cli.Commands;

/// <summary><c>surgeon delete-layer MODEL --layer NAME -o OUT</c>: removes a layer; its consumers take its input.</summary>
internal static class DeleteLayerCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var layer = new Option<string>("--layer") { Description = "The layer to delete (one input, output the shape of its input).", Required = true };
        var nodes = CommonOptions.Nodes();
        var output = CommonOptions.OutputModel();
        var command = new Command("delete-layer", "Delete a layer; the layers consuming it take its input instead.") { model, weights, layer, nodes, output };
        command.SetAction(parse =>
        {
            using var m = CommonOptions.Load(parse, model, weights);
            using var result = new ModelSurgeon(m).DeleteLayer(parse.GetRequiredValue(layer), CommonOptions.Ints(parse, nodes)).Operate();
            stdout.WriteLine($"Deleted layer '{parse.GetRequiredValue(layer)}'.");
            stdout.WriteLine($"Parameters: {m.ParameterCount:N0} -> {result.Model.ParameterCount:N0}.");
            var path = parse.GetRequiredValue(output);
            KerasFile.Save(result.Model, path);
            stdout.WriteLine($"Wrote {path}.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
