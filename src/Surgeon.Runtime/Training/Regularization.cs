using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Surgeon.Training;

/// <summary>A Keras weight regularizer: <c>l1 * sum(|w|) + l2 * sum(w^2)</c>, added to the training loss.</summary>
internal sealed record Regularizer(double L1, double L2)
{
    public Tensor Penalty(Tensor w)
    {
        Tensor? total = null;
        if (L1 != 0) total = w.abs().sum() * L1;
        if (L2 != 0)
        {
            var l2 = w.square().sum() * L2;
            total = total is null ? l2 : total + l2;
        }
        return total ?? zeros(Array.Empty<long>(), dtype: w.dtype, device: w.device);
    }
}

/// <summary>A Keras weight constraint, applied to the weight after each optimizer update (Keras layout axes).</summary>
internal sealed record WeightConstraint(string Kind, double MinValue, double MaxValue, double Rate, long[] Axes)
{
    private const double Epsilon = 1e-7; // Keras's backend epsilon

    /// <summary>Replaces <paramref name="w"/>'s values by the constrained ones (call under no_grad).</summary>
    public void Apply(Tensor w)
    {
        using var scope = NewDisposeScope();
        switch (Kind)
        {
            case "NonNeg":
                w.mul_((w >= 0).to_type(w.dtype));
                return;
            case "UnitNorm":
                w.div_(Norms(w).add_(Epsilon));
                return;
            case "MaxNorm":
                {
                    var norms = Norms(w);
                    w.mul_(norms.clamp(0, MaxValue).div_(norms.add(Epsilon)));
                    return;
                }
            default: // MinMaxNorm
                {
                    var norms = Norms(w);
                    var desired = norms.clamp(MinValue, MaxValue).mul_(Rate).add_(norms * (1 - Rate));
                    w.mul_(desired.div_(norms.add(Epsilon)));
                    return;
                }
        }
    }

    private Tensor Norms(Tensor w)
    {
        var axes = Axes.Select(a => a < 0 ? a + w.dim() : a).ToArray();
        return w.square().sum(axes, keepdim: true).sqrt_();
    }
}

/// <summary>Reads Keras regularizer and constraint configs (Keras 1, 2 and 3 spellings) for a layer's weights.</summary>
internal static class Regularization
{
    /// <summary>The config keys for a weight's regularizer and constraint, by weight name.</summary>
    private static (string[] Regularizer, string[] Constraint) Keys(string weight) => weight switch
    {
        "kernel" or "W" => (new[] { "kernel_regularizer", "W_regularizer" }, new[] { "kernel_constraint", "W_constraint" }),
        "bias" or "b" => (new[] { "bias_regularizer", "b_regularizer" }, new[] { "bias_constraint", "b_constraint" }),
        "depthwise_kernel" => (new[] { "depthwise_regularizer" }, new[] { "depthwise_constraint" }),
        "pointwise_kernel" => (new[] { "pointwise_regularizer" }, new[] { "pointwise_constraint" }),
        "gamma" => (new[] { "gamma_regularizer" }, new[] { "gamma_constraint" }),
        "beta" => (new[] { "beta_regularizer" }, new[] { "beta_constraint" }),
        "alpha" => (new[] { "alpha_regularizer" }, new[] { "alpha_constraint" }),
        _ => (Array.Empty<string>(), Array.Empty<string>()),
    };

    /// <summary>Attaches the regularizers and constraints a layer's config gives to its trainable parameters.</summary>
    /// <exception cref="SurgeonException">An activity regularizer, or a regularizer or constraint Surgeon cannot apply.</exception>
    public static void Attach(KerasLayer layer, ParameterSet parameters)
    {
        var c = layer.ConfigNode;
        if (c["activity_regularizer"] is { } activity && !IsNone(activity))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has an activity_regularizer, which Surgeon's trainer does not apply yet.");
        foreach (var w in layer.Weights)
        {
            var p = parameters[w];
            var (regKeys, conKeys) = Keys(w.Name);
            var reg = regKeys.Select(k => c[k]).FirstOrDefault(n => n is not null && !IsNone(n));
            var con = conKeys.Select(k => c[k]).FirstOrDefault(n => n is not null && !IsNone(n));
            if (reg is not null) p.Regularizer = ReadRegularizer(layer, reg);
            if (con is not null) p.Constraint = ReadConstraint(layer, con);
        }
    }

    private static bool IsNone(JsonNode n) => n is JsonValue v && v.TryGetValue(out string? s) && (s is null || s == "None");

    private static (string Name, JsonObject Config) Split(JsonNode n)
    {
        switch (n)
        {
            case JsonValue v when v.TryGetValue(out string? s):
                return (s ?? "", new JsonObject());
            case JsonObject o when o["class_name"] is JsonValue cls:
                return (cls.GetValue<string>(), o["config"] as JsonObject ?? new JsonObject());
            case JsonObject o when o["name"] is JsonValue name: // Keras 1: {"name": "L1L2Regularizer", "l1": ..}
                return (name.GetValue<string>(), o);
            default:
                return ("", new JsonObject());
        }
    }

    private static double Number(JsonObject c, string key, double dflt) =>
        c[key] is JsonValue v && v.TryGetValue(out double d) ? d : dflt;

    private static Regularizer ReadRegularizer(KerasLayer layer, JsonNode n)
    {
        var (name, c) = Split(n);
        return name switch
        {
            "L1" or "l1" => new Regularizer(Number(c, "l1", 0.01), 0),
            "L2" or "l2" => new Regularizer(0, Number(c, "l2", 0.01)),
            "l1_l2" when c.Count == 0 => new Regularizer(0.01, 0.01),
            "L1L2" or "l1_l2" or "L1L2Regularizer" or "WeightRegularizer" => new Regularizer(Number(c, "l1", 0), Number(c, "l2", 0)),
            _ => throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses regularizer '{name}', which Surgeon's trainer cannot apply (L1, L2 and L1L2 are supported)."),
        };
    }

    private static WeightConstraint ReadConstraint(KerasLayer layer, JsonNode n)
    {
        var (name, c) = Split(n);
        var axes = c["axis"] switch
        {
            JsonValue v when v.TryGetValue(out int a) => new long[] { a },
            JsonArray a => a.Select(x => (long)x!.GetValue<int>()).ToArray(),
            _ => new long[] { 0 },
        };
        return name switch
        {
            "NonNeg" or "non_neg" or "nonneg" => new WeightConstraint("NonNeg", 0, 0, 0, axes),
            "UnitNorm" or "unit_norm" or "unitnorm" => new WeightConstraint("UnitNorm", 0, 0, 0, axes),
            "MaxNorm" or "max_norm" or "maxnorm" => new WeightConstraint("MaxNorm", 0, Number(c, "max_value", Number(c, "m", 2)), 1, axes),
            "MinMaxNorm" or "min_max_norm" => new WeightConstraint("MinMaxNorm", Number(c, "min_value", 0), Number(c, "max_value", 1), Number(c, "rate", 1), axes),
            _ => throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses constraint '{name}', which Surgeon's trainer cannot apply (MaxNorm, MinMaxNorm, NonNeg and UnitNorm are supported)."),
        };
    }
}
