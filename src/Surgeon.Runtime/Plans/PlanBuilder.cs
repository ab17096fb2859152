namespace Surgeon;

/// <summary>How a surgery plan decides that a model is the one it was compiled against.</summary>
public enum PlanMatch
{
    /// <summary>The same architecture: layers, classes, widths and wiring (<see cref="KerasModel.ArchitectureFingerprint"/>).</summary>
    Exact,
    /// <summary>
    /// The same layers, classes and wiring, whatever the widths (<see cref="ArchitectureFingerprint.Topology"/>): a
    /// pruned version of the architecture, for plans applied step after step. Channel indices are then checked against
    /// the model itself when the jobs are added.
    /// </summary>
    Topology,
}

/// <summary>
/// The jobs of a surgery plan, on typed layer handles: the generated <c>Run</c> method of a
/// <c>[SurgeryPlan]</c> class starts one (checking the model's fingerprint), adds the jobs its attributes declare, and
/// passes it to the plan's <c>Configure</c> partial method for jobs attributes cannot express (insertions,
/// replacements, channels chosen at run time from <see cref="Model"/>). Every job is validated when added, as
/// <see cref="ModelSurgeon"/> does.
/// </summary>
public sealed class PlanBuilder
{
    private PlanBuilder(string planName, KerasModel model, ModelSurgeon surgeon)
    {
        PlanName = planName;
        Model = model;
        Surgeon = surgeon;
    }

    /// <summary>
    /// Starts the plan <paramref name="planName"/> on <paramref name="model"/> after checking that the model's
    /// <see cref="ArchitectureFingerprint"/> is <paramref name="fingerprint"/>.
    /// </summary>
    /// <param name="planName">The plan's full type name, for messages.</param>
    /// <param name="fingerprint">The fingerprint of the architecture the plan was compiled against.</param>
    /// <param name="layers">The plan's layer handles, used to name the layers that differ when the fingerprints do.</param>
    /// <param name="model">The model to operate on; it is never changed.</param>
    /// <param name="coupling">How coupled producers of element-wise merges are handled.</param>
    /// <param name="match">
    /// <see cref="PlanMatch.Exact"/>: <paramref name="fingerprint"/> is the architecture fingerprint;
    /// <see cref="PlanMatch.Topology"/>: it is the topology fingerprint (widths may differ).
    /// </param>
    /// <exception cref="PlanMismatchException">The model's architecture is not the plan's.</exception>
    public static PlanBuilder Start(string planName, string fingerprint, IReadOnlyList<LayerHandle> layers, KerasModel model,
        CouplingPolicy coupling = CouplingPolicy.DeleteFromGroup, PlanMatch match = PlanMatch.Exact)
    {
        ArgumentNullException.ThrowIfNull(planName);
        ArgumentNullException.ThrowIfNull(fingerprint);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(model);
        var actual = match == PlanMatch.Topology ? ArchitectureFingerprint.Topology(model) : model.ArchitectureFingerprint;
        if (!string.Equals(actual, fingerprint, StringComparison.Ordinal))
        {
            var source = model.Source.Path is { } path && !path.StartsWith('<') ? $"model '{model.Name}' (from '{path}')" : $"model '{model.Name}'";
            throw new PlanMismatchException(planName, source, fingerprint, actual, Differences(layers, model, compareWidths: match == PlanMatch.Exact));
        }
        return new PlanBuilder(planName, model, new ModelSurgeon(model) { Coupling = coupling });
    }

    /// <summary>The plan's full type name.</summary>
    public string PlanName { get; }

    /// <summary>The model the plan runs on (read it to choose channels at run time; never change it).</summary>
    public KerasModel Model { get; }

    /// <summary>The underlying surgeon, for jobs on layers by name.</summary>
    public ModelSurgeon Surgeon { get; }

    /// <summary>
    /// Deletes output channels of <paramref name="layer"/> (see <see cref="ModelSurgeon.DeleteChannels"/>). An index
    /// listed twice is deleted once, as with <c>[DeleteChannels]</c> (where the compiler warns, SRG008).
    /// </summary>
    /// <exception cref="SurgeonException">An index is out of range, every channel is listed, or the layer already has a job.</exception>
    public PlanBuilder DeleteChannels(ChannelLayerHandle layer, params int[] channels) => DeleteChannels(layer, (IEnumerable<int>)channels);

    /// <summary>
    /// Deletes output channels of <paramref name="layer"/> (see <see cref="ModelSurgeon.DeleteChannels"/>). An index
    /// listed twice is deleted once.
    /// </summary>
    /// <exception cref="SurgeonException">An index is out of range, every channel is listed, or the layer already has a job.</exception>
    public PlanBuilder DeleteChannels(ChannelLayerHandle layer, IEnumerable<int> channels)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(channels);
        Surgeon.DeleteChannels(layer.Name, channels.Distinct());
        return this;
    }

    /// <summary>Deletes <paramref name="layer"/>; its consumers take its input (see <see cref="ModelSurgeon.DeleteLayer"/>).</summary>
    public PlanBuilder DeleteLayer(LayerHandle layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Surgeon.DeleteLayer(layer.Name);
        return this;
    }

    /// <summary>Inserts <paramref name="newLayer"/> before <paramref name="layer"/> (see <see cref="ModelSurgeon.InsertLayerBefore"/>).</summary>
    public PlanBuilder InsertLayerBefore(LayerHandle layer, LayerSpec newLayer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Surgeon.InsertLayerBefore(layer.Name, newLayer);
        return this;
    }

    /// <summary>Inserts <paramref name="newLayer"/> after <paramref name="layer"/> (see <see cref="ModelSurgeon.InsertLayerAfter"/>).</summary>
    public PlanBuilder InsertLayerAfter(LayerHandle layer, LayerSpec newLayer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Surgeon.InsertLayerAfter(layer.Name, newLayer);
        return this;
    }

    /// <summary>Puts <paramref name="newLayer"/> in place of <paramref name="layer"/> (see <see cref="ModelSurgeon.ReplaceLayer"/>).</summary>
    public PlanBuilder ReplaceLayer(LayerHandle layer, LayerSpec newLayer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Surgeon.ReplaceLayer(layer.Name, newLayer);
        return this;
    }

    /// <summary>Applies every job in one pass and returns the new model (see <see cref="ModelSurgeon.Operate"/>).</summary>
    public SurgeryResult Operate() => Surgeon.Operate();

    private static List<string> Differences(IReadOnlyList<LayerHandle> layers, KerasModel model, bool compareWidths)
    {
        var result = new List<string>();
        var planned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in layers)
        {
            planned.Add(handle.Name);
            var layer = model.FindLayer(handle.Name);
            if (layer is null)
            {
                result.Add($"layer '{handle.Name}' ({handle.ClassName}) is missing");
                continue;
            }
            if (layer.ClassName != handle.ClassName)
            {
                result.Add($"layer '{handle.Name}' is a {layer.ClassName}, not a {handle.ClassName}");
                continue;
            }
            var channels = LayerChannels.Count(layer);
            var expected = (handle as ChannelLayerHandle)?.ChannelCount;
            if (compareWidths && channels != expected)
                result.Add($"layer '{handle.Name}' has {channels?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no"} channels, not {expected?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
        }
        foreach (var layer in model.Layers)
        {
            if (!planned.Contains(layer.Name)) result.Add($"layer '{layer.Name}' ({layer.ClassName}) is new");
        }
        return result;
    }
}
