using System.Globalization;
using Surgeon;
using Quickstart;

// Runs LeNetPlan on the model it was compiled against and shows what changed.
// Usage: Quickstart [OUTPUT.keras]   (default: lenet-pruned.keras beside the program)
var input = Path.Combine(AppContext.BaseDirectory, "lenet.h5");
var output = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "lenet-pruned.keras");
var n = CultureInfo.InvariantCulture;

using var model = KerasFile.Load(input);
Console.WriteLine($"Model '{model.Name}' from {LeNetPlan.ModelPath}: {model.Layers.Count} layers, {model.ParameterCount.ToString("N0", n)} parameters");
Console.WriteLine($"Plan {nameof(LeNetPlan)}, compiled against architecture {LeNetPlan.Fingerprint}");

using var result = LeNetPlan.Run(model);   // checks the fingerprint, runs the declared jobs, then Configure's

Console.WriteLine();
Console.WriteLine($"{"layer",-16} {"channels before",15} {"after",6}  deleted");
foreach (var handle in LeNetPlan.Layers.All.OfType<ChannelLayerHandle>())
{
    var after = LayerChannels.Count(handle.In(result.Model));
    var deleted = result.DeletedChannels.TryGetValue(handle.Name, out var d) ? string.Join(", ", d) : "";
    Console.WriteLine($"{handle.Name,-16} {handle.ChannelCount,15} {after,6}  {deleted}");
}
Console.WriteLine();
Console.WriteLine($"Parameters: {model.ParameterCount.ToString("N0", n)} -> {result.Model.ParameterCount.ToString("N0", n)}");
Console.WriteLine($"Changed layers: {string.Join(", ", result.ChangedLayers)}");

// The pruned model must compute what the original computes with the deleted channels forced to zero.
var difference = result.MaxDifference(model);
Console.WriteLine($"Max |difference| to the original with those channels zeroed: {difference.ToString("G3", n)}");

KerasFile.Save(result.Model, output);
using var reloaded = KerasFile.Load(output);
Console.WriteLine($"Saved {output} (reloaded: {reloaded.ParameterCount.ToString("N0", n)} parameters)");
return difference <= 1e-5 ? 0 : 1;
