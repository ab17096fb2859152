using System.CommandLine;

namespace Surgeon.Cli.Commands;

/// <summary>
/// <c>surgeon delete-channels MODEL --layer NAME --channels 0,5,7 -o OUT [--verify]</c>: deletes channels and repairs
/// every layer downstream, printing what changed.
/// </summary>
internal static class DeleteChannelsCommand
{
    /// <summary>Largest difference --verify accepts between the pruned model and the masked original.</summary>
    private const double VerifyTolerance = 1e-5;

    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var layer = new Option<string>("--layer") { Description = "The layer whose channels (units, filters) to delete.", Required = true };
        var channels = new Option<string>("--channels") { Description = "Comma-separated 0-based channel indices, e.g. 0,5,7 (negative ones count from the end: --channels=-1). Deleting every channel removes the layer's branch up to a Concatenate.", Required = true };
        var output = CommonOptions.OutputModel();
        var verify = new Option<bool>("--verify") { Description = $"Before writing, check on random inputs that the result equals the original with those channels zeroed (max abs difference <= {VerifyTolerance}); do not write if not." };
        var refuse = new Option<bool>("--refuse-coupling") { Description = "Fail instead of deleting the same channels from layers coupled by residual merges." };
        var nodes = CommonOptions.Nodes();
        var command = new Command("delete-channels", "Delete channels of a layer and repair every layer downstream.") { model, weights, layer, channels, nodes, output, verify, refuse };
        command.SetAction(parse =>
        {
            using var m = CommonOptions.Load(parse, model, weights);
            var layerName = parse.GetRequiredValue(layer);
            var indices = CommonOptions.Ints(parse.GetRequiredValue(channels), channels.Name);
            var surgeon = new ModelSurgeon(m) { Coupling = parse.GetValue(refuse) ? CouplingPolicy.Refuse : CouplingPolicy.DeleteFromGroup };
            using var result = surgeon.DeleteChannels(layerName, indices, CommonOptions.Ints(parse, nodes)).Operate();
            foreach (var (name, deleted) in result.DeletedChannels)
                stdout.WriteLine($"Deleted {deleted.Length} channel(s) of '{name}': {string.Join(", ", deleted)}{(result.CoupledLayers.Contains(name) ? " (coupled by a merge)" : "")}.");
            stdout.WriteLine($"Layers changed: {string.Join(", ", result.ChangedLayers)}.");
            if (result.RemovedLayers.Count > 0) stdout.WriteLine($"Layers removed with the branch: {string.Join(", ", result.RemovedLayers)}.");
            stdout.WriteLine($"Parameters: {m.ParameterCount:N0} -> {result.Model.ParameterCount:N0}.");
            foreach (var note in result.InexactLayers) stdout.WriteLine($"Not exact: {note}.");
            if (parse.GetValue(verify))
            {
                var difference = result.MaxDifference(m);
                stdout.WriteLine($"Verify: max abs difference to the masked original {difference:G3} (tolerance {VerifyTolerance}).");
                if (difference > VerifyTolerance)
                {
                    stdout.WriteLine("Verification failed; nothing written.");
                    return ExitCodes.VerificationFailed;
                }
            }
            var path = parse.GetRequiredValue(output);
            KerasFile.Save(result.Model, path);
            stdout.WriteLine($"Wrote {path}.");
            return ExitCodes.Ok;
        });
        return command;
    }
}
