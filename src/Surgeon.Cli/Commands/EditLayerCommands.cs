using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Surgeon.Cli.Commands;

/// <summary>
/// <c>surgeon insert-layer MODEL (--before|--after) NAME --class C [--config JSON] [--name N] -o OUT</c> and
/// <c>surgeon replace-layer MODEL --layer NAME --class C [--config JSON] [--name N] -o OUT</c>. New layers get fresh
/// weights initialised from their config (seeded by <c>--seed</c>).
/// </summary>
internal static class EditLayerCommands
{
    public static Command Insert(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var before = new Option<string?>("--before") { Description = "Insert between this layer and its input." };
        var after = new Option<string?>("--after") { Description = "Insert after this layer: its consumers (and a model output on it) take the new layer's output." };
        var (cls, config, name, seed) = SpecOptions();
        var nodes = CommonOptions.Nodes();
        var output = CommonOptions.OutputModel();
        var command = new Command("insert-layer", "Insert a new layer (it must keep the shape of the tensor it is put on).") { model, weights, before, after, cls, config, name, seed, nodes, output };
        command.Validators.Add(r =>
        {
            if ((r.GetValue(before) is null) == (r.GetValue(after) is null)) r.AddError("Give exactly one of --before and --after.");
        });
        command.SetAction(parse =>
        {
            var spec = Spec(parse, cls, config, name, seed);
            using var m = CommonOptions.Load(parse, model, weights);
            var surgeon = new ModelSurgeon(m);
            string where;
            if (parse.GetValue(before) is { } b)
            {
                surgeon.InsertLayerBefore(b, spec, CommonOptions.Ints(parse, nodes));
                where = $"before '{b}'";
            }
            else
            {
                var a = parse.GetValue(after)!;
                surgeon.InsertLayerAfter(a, spec, CommonOptions.Ints(parse, nodes));
                where = $"after '{a}'";
            }
            using var result = surgeon.Operate();
            return Finish(stdout, m, result, $"Inserted {spec.ClassName} {where}", parse.GetRequiredValue(output));
        });
        return command;
    }

    public static Command Replace(TextWriter stdout)
    {
        var model = CommonOptions.Model();
        var weights = CommonOptions.Weights();
        var layer = new Option<string>("--layer") { Description = "The layer to replace.", Required = true };
        var (cls, config, name, seed) = SpecOptions();
        var nodes = CommonOptions.Nodes();
        var output = CommonOptions.OutputModel();
        var command = new Command("replace-layer", "Put a new layer in place of one, on the same inputs (it must output the same shape).") { model, weights, layer, cls, config, name, seed, nodes, output };
        command.SetAction(parse =>
        {
            var spec = Spec(parse, cls, config, name, seed);
            using var m = CommonOptions.Load(parse, model, weights);
            using var result = new ModelSurgeon(m).ReplaceLayer(parse.GetRequiredValue(layer), spec, CommonOptions.Ints(parse, nodes)).Operate();
            return Finish(stdout, m, result, $"Replaced '{parse.GetRequiredValue(layer)}' with a {spec.ClassName}", parse.GetRequiredValue(output));
        });
        return command;
    }

    private static (Option<string> Class, Option<string?> Config, Option<string?> Name, Option<long> Seed) SpecOptions() => (
        new Option<string>("--class") { Description = "Keras class of the new layer, e.g. Dropout, Dense, BatchNormalization.", Required = true },
        new Option<string?>("--config") { Description = "The new layer's Keras config as JSON, e.g. '{\"rate\": 0.5}'." },
        new Option<string?>("--name") { Description = "The new layer's name (default: from its class, e.g. dropout_1)." },
        new Option<long>("--seed") { Description = "Seed for initialising the new layer's weights.", DefaultValueFactory = _ => 0 });

    private static LayerSpec Spec(ParseResult parse, Option<string> cls, Option<string?> config, Option<string?> name, Option<long> seed)
    {
        JsonObject? json = null;
        if (parse.GetValue(config) is { } text)
        {
            try
            {
                json = JsonNode.Parse(text) as JsonObject ?? throw new ArgumentException($"--config must be a JSON object, got: {text}");
            }
            catch (JsonException e)
            {
                throw new ArgumentException($"--config is not valid JSON ({e.Message}): {text}", e);
            }
        }
        return new LayerSpec(parse.GetRequiredValue(cls), json) { Name = parse.GetValue(name), Seed = parse.GetValue(seed) };
    }

    private static int Finish(TextWriter stdout, KerasModel before, SurgeryResult result, string what, string path)
    {
        var added = result.Model.Layers.Select(l => l.Name).Where(n => before.FindLayer(n) is null).ToArray();
        stdout.WriteLine(added.Length > 0 ? $"{what}: new layer '{string.Join("', '", added)}'." : $"{what}.");
        stdout.WriteLine($"Parameters: {before.ParameterCount:N0} -> {result.Model.ParameterCount:N0}.");
        KerasFile.Save(result.Model, path);
        stdout.WriteLine($"Wrote {path}.");
        return ExitCodes.Ok;
    }
}
