using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Surgeon;

/// <summary>One row of a <see cref="ModelSummary"/>.</summary>
/// <param name="Name">Layer name.</param>
/// <param name="ClassName">Layer class.</param>
/// <param name="OutputShape">Output shape as Keras prints it, e.g. <c>(None, 26, 26, 32)</c>; <c>multiple</c> for a shared layer; <c>?</c> when unknown.</param>
/// <param name="Parameters">Number of scalar weights.</param>
/// <param name="TrainableParameters">Number of trainable scalar weights.</param>
/// <param name="ConnectedTo">Inbound tensors as <c>layer[node][tensor]</c>.</param>
/// <param name="Macs">Multiply-accumulates per sample (<see cref="ModelCost"/>); null when unknown.</param>
public sealed record LayerSummary(string Name, string ClassName, string OutputShape, long Parameters, long TrainableParameters, IReadOnlyList<string> ConnectedTo, long? Macs = null);

/// <summary>What Keras's <c>model.summary()</c> shows: one row per layer, and the parameter totals.</summary>
public sealed class ModelSummary
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    private ModelSummary(KerasModel model, IReadOnlyList<LayerSummary> rows)
    {
        ModelName = model.Name;
        ModelClass = model.ClassName;
        Rows = rows;
        TotalParameters = model.ParameterCount;
        TrainableParameters = model.TrainableParameterCount;
        NonTrainableParameters = model.NonTrainableParameterCount;
        IsSequential = model.IsSequential;
        Macs = rows.All(r => r.Macs is not null) ? rows.Sum(r => r.Macs!.Value) : null;
    }

    /// <summary>Model name.</summary>
    public string ModelName { get; }

    /// <summary>Model class.</summary>
    public string ModelClass { get; }

    /// <summary>Whether the model is Sequential (Keras omits the input layer and the connections then).</summary>
    [JsonIgnore]
    public bool IsSequential { get; }

    /// <summary>The layers, in model order.</summary>
    [JsonPropertyName("layers")]
    public IReadOnlyList<LayerSummary> Rows { get; }

    /// <summary>All parameters.</summary>
    public long TotalParameters { get; }

    /// <summary>Trainable parameters.</summary>
    public long TrainableParameters { get; }

    /// <summary>Non-trainable parameters.</summary>
    public long NonTrainableParameters { get; }

    /// <summary>Multiply-accumulates per sample (<see cref="ModelCost"/>); null when some layer's are unknown.</summary>
    public long? Macs { get; }

    /// <summary>Summarizes <paramref name="model"/>.</summary>
    public static ModelSummary Of(KerasModel model)
    {
        var shapes = Shapes.ShapeInference.For(model);
        var macs = ModelCost.Of(model, shapes).Layers.ToDictionary(l => l.Name, l => l.Macs, StringComparer.Ordinal);
        var rows = new List<LayerSummary>();
        foreach (var layer in model.Layers)
        {
            if (model.IsSequential && layer.ClassName == "InputLayer") continue;
            string shape;
            if (layer.InboundNodes.Count > 1)
            {
                shape = "multiple";
            }
            else
            {
                var outs = shapes.OutputShapes(layer.Name);
                shape = outs is null ? "?" : outs.Count == 1 ? Format(outs[0]) : "[" + string.Join(", ", outs.Select(Format)) + "]";
            }
            var connected = layer.InboundNodes.SelectMany(n => n.Inputs).Select(t => t.ToString()).ToList();
            rows.Add(new LayerSummary(layer.Name, layer.ClassName, shape, layer.ParameterCount, layer.TrainableParameterCount, connected, macs[layer.Name]));
        }
        return new ModelSummary(model, rows);
    }

    /// <summary>A shape the way Keras prints it: <c>(None, 28, 28, 1)</c>.</summary>
    public static string Format(int?[] shape) =>
        "(" + string.Join(", ", shape.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "None")) + (shape.Length == 1 ? ",)" : ")");

    /// <summary>The summary as JSON (layers with class, output shape, parameters, inbound layers; totals).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>The summary as text laid out like Keras's <c>model.summary()</c>.</summary>
    public override string ToString()
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        string Count(long? v) => v?.ToString("N0", ci) ?? "?";
        var headers = IsSequential
            ? new[] { "Layer (type)", "Output Shape", "Param #", "MACs" }
            : new[] { "Layer (type)", "Output Shape", "Param #", "MACs", "Connected to" };
        var table = Rows.Select(r => IsSequential
            ? new[] { $"{r.Name} ({r.ClassName})", r.OutputShape, Count(r.Parameters), Count(r.Macs) }
            : new[] { $"{r.Name} ({r.ClassName})", r.OutputShape, Count(r.Parameters), Count(r.Macs), string.Join(", ", r.ConnectedTo) }).ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, table.Count == 0 ? 0 : table.Max(row => row[i].Length)) + 2).ToArray();
        var total = widths.Sum();
        var sb = new StringBuilder();
        sb.Append("Model: \"").Append(ModelName).Append("\"\n");
        sb.Append(new string('_', total)).Append('\n');
        AppendRow(sb, headers, widths);
        sb.Append(new string('=', total)).Append('\n');
        for (var i = 0; i < table.Count; i++)
        {
            AppendRow(sb, table[i], widths);
            sb.Append(i == table.Count - 1 ? new string('=', total) : new string('_', total)).Append('\n');
        }
        if (table.Count == 0) sb.Append(new string('=', total)).Append('\n');
        sb.Append("Total params: ").Append(TotalParameters.ToString("N0", ci)).Append('\n');
        sb.Append("Trainable params: ").Append(TrainableParameters.ToString("N0", ci)).Append('\n');
        sb.Append("Non-trainable params: ").Append(NonTrainableParameters.ToString("N0", ci)).Append('\n');
        sb.Append("MACs per sample: ").Append(Count(Macs)).Append('\n');
        sb.Append(new string('_', total)).Append('\n');
        return sb.ToString();
    }

    private static void AppendRow(StringBuilder sb, string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++) line.Append(' ').Append(cells[i].PadRight(widths[i] - 1));
        sb.Append(line.ToString().TrimEnd()).Append('\n');
    }
}
