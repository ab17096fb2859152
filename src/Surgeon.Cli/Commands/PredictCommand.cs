using System.CommandLine;
using TorchSharp;

namespace Surgeon.Cli.Commands;

/// <summary>
/// <c>surgeon predict MODEL --input X.npy [--input X2.npy ...] --output Y.npy [--layer NAME]</c>: runs the model (or
/// stops at a layer) on NumPy inputs and writes float32 .npy outputs, numbered when there are several.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var inputs = new Option<string[]>("--input", "-i") { Description = "One .npy file per model input, in the model's input order.", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--output", "-o") { Description = "Output .npy file (Y.npy; several outputs become Y.0.npy, Y.1.npy, ...).", Required = true };
        var layer = new Option<string?>("--layer") { Description = "Write this layer's output instead of the model's (from the same pass)." };
        var command = new Command("predict", "Run a model on .npy inputs and write the outputs as .npy.") { model, weights, inputs, output, layer };
        command.SetAction(parse =>
        {
            using var m = CommonOptions.Load(parse, model, weights);
            using var runner = ModelRunner.Create(m);
            var tensors = parse.GetRequiredValue(inputs).Select(NpyFile.Read).ToList();
            try
            {
                var layerName = parse.GetValue(layer);
                using var result = runner.Forward(tensors, layerName is null ? null : new[] { layerName });
                var outputs = layerName is null ? result.Outputs : result.LayerOutputs[layerName];
                var path = parse.GetRequiredValue(output);
                for (var i = 0; i < outputs.Count; i++)
                {
                    var target = outputs.Count == 1 ? path : Numbered(path, i);
                    using var cpu = outputs[i].to_type(torch.ScalarType.Float32).cpu();
                    NpyFile.Write(target, cpu);
                    stdout.WriteLine($"Wrote {target} [{string.Join(", ", cpu.shape)}].");
                }
            }
            finally
            {
                foreach (var t in tensors) t.Dispose();
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Numbered(string path, int index)
    {
        var extension = Path.GetExtension(path);
        return Path.Combine(Path.GetDirectoryName(path) ?? "", $"{Path.GetFileNameWithoutExtension(path)}.{index}{extension}");
    }
}
