namespace Surgeon;

/// <summary>What a global selection must reduce.</summary>
public enum CostKind
{
    /// <summary>The parameter count.</summary>
    Parameters,
    /// <summary>Multiply-accumulates per sample (<see cref="ModelCost.Macs"/>).</summary>
    Macs,
}

/// <summary>Options of <see cref="ChannelSelection.Global"/>.</summary>
public sealed record GlobalSelectionOptions
{
    /// <summary>Fraction of all candidate channels to delete (0 to 1). Give this or <see cref="TargetReduction"/>.</summary>
    public double? Ratio { get; init; }

    /// <summary>
    /// Fraction of the model's <see cref="TargetKind"/> to remove (e.g. 0.5 for half the parameters): the fewest
    /// lowest-ranked channels whose deletion reaches it, found by running the surgery (exact counts).
    /// </summary>
    public double? TargetReduction { get; init; }

    /// <summary>What <see cref="TargetReduction"/> counts.</summary>
    public CostKind TargetKind { get; init; } = CostKind.Parameters;

    /// <summary>Keep every layer's channel count a multiple of this (hardware-friendly widths).</summary>
    public int RoundTo { get; init; } = 1;

    /// <summary>Never delete more than this fraction of one layer's (or coupled group's) channels.</summary>
    public double MaxLayerRatio { get; init; } = 0.9;

    /// <summary>Layers never pruned (a coupled group with an ignored member is left whole).</summary>
    public IReadOnlyCollection<string> Ignored { get; init; } = Array.Empty<string>();

    /// <summary>
    /// Divide each layer's importance by its mean before ranking across layers (default), so that layers with
    /// differently scaled weights compete fairly; false ranks raw values (e.g. APoZ-based scores, already in [0, 1]).
    /// </summary>
    public bool NormalizePerLayer { get; init; } = true;
}

/// <summary>
/// Turns importance scores (<see cref="ChannelImportance"/>, higher is more important) into channel deletions: per
/// layer (a ratio or a threshold), or globally across layers, aware of coupled residual groups (a group is ranked
/// and pruned together), with channel counts rounded to a multiple and an optional parameter or MAC target.
/// </summary>
public static class ChannelSelection
{
    /// <summary>
    /// The channels of one layer to delete: the <paramref name="ratio"/> least important (rounded down), or those below
    /// <paramref name="threshold"/>; the count kept stays a multiple of <paramref name="roundTo"/> and at least one.
    /// </summary>
    public static int[] PerLayer(IReadOnlyList<double> importance, double? ratio = null, double? threshold = null, int roundTo = 1)
    {
        ArgumentNullException.ThrowIfNull(importance);
        if ((ratio is null) == (threshold is null)) throw new ArgumentException("Give exactly one of ratio and threshold.");
        if (ratio is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "The ratio must be between 0 and 1.");
        if (roundTo < 1) throw new ArgumentOutOfRangeException(nameof(roundTo), roundTo, "roundTo must be at least 1.");
        var order = Enumerable.Range(0, importance.Count).OrderBy(i => importance[i]).ThenBy(i => i).ToArray();
        var wanted = ratio is { } r ? (int)Math.Floor(r * importance.Count) : order.Count(i => importance[i] < threshold!.Value);
        var count = Rounded(importance.Count, wanted, roundTo, 1.0);
        return order.Take(count).Order().ToArray();
    }

    /// <summary>
    /// Channels to delete across <paramref name="importance"/>'s layers, ranked together. Layers that element-wise
    /// merges couple are one unit (per-channel importance averaged over the members that have scores) and get the same
    /// deletion; model outputs and <see cref="GlobalSelectionOptions.Ignored"/> layers are never pruned.
    /// </summary>
    /// <returns>Layer name to the channel indices to delete (every member of a pruned group listed).</returns>
    public static IReadOnlyDictionary<string, int[]> Global(KerasModel model, IReadOnlyDictionary<string, double[]> importance, GlobalSelectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(importance);
        ArgumentNullException.ThrowIfNull(options);
        if ((options.Ratio is null) == (options.TargetReduction is null)) throw new ArgumentException("Give exactly one of Ratio and TargetReduction.");
        if (options.RoundTo < 1) throw new ArgumentOutOfRangeException(nameof(options), options.RoundTo, "RoundTo must be at least 1.");
        var units = Units(model, importance, options);
        var candidates = units.SelectMany((u, ui) => u.Scores.Select((s, c) => (Unit: ui, Channel: c, Score: s)))
            .OrderBy(x => x.Score).ThenBy(x => x.Unit).ThenBy(x => x.Channel).ToArray();

        IReadOnlyDictionary<string, int[]> Select(int k)
        {
            var perUnit = new List<int>[units.Count];
            for (var i = 0; i < units.Count; i++) perUnit[i] = new List<int>();
            foreach (var (unit, channel, _) in candidates.Take(k)) perUnit[unit].Add(channel);
            var result = new Dictionary<string, int[]>(StringComparer.Ordinal);
            for (var i = 0; i < units.Count; i++)
            {
                var count = Rounded(units[i].Scores.Length, perUnit[i].Count, options.RoundTo, options.MaxLayerRatio);
                if (count == 0) continue;
                // The unit's lowest channels, in the global order, cut to the rounded count.
                var chosen = perUnit[i].Count >= count ? perUnit[i].Take(count)
                    : Enumerable.Range(0, units[i].Scores.Length).OrderBy(c => units[i].Scores[c]).ThenBy(c => c).Take(count);
                var channels = chosen.Order().ToArray();
                foreach (var member in units[i].Members) result[member] = channels;
            }
            return result;
        }

        if (options.Ratio is { } ratio)
        {
            if (ratio is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(options), ratio, "Ratio must be between 0 and 1.");
            return Select((int)Math.Floor(ratio * candidates.Length));
        }
        var target = options.TargetReduction!.Value;
        if (target is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), target, "TargetReduction must be between 0 and 1 (exclusive).");
        var before = Cost(model, options.TargetKind);
        double Reduction(IReadOnlyDictionary<string, int[]> selection)
        {
            if (selection.Count == 0) return 0;
            var surgeon = new ModelSurgeon(model);
            foreach (var (layer, channels) in selection) surgeon.DeleteChannels(layer, channels);
            using var result = surgeon.Operate();
            return 1 - (double)Cost(result.Model, options.TargetKind) / before;
        }
        // The reduction grows with k (rounding aside): binary search for the fewest channels that reach the target.
        int lo = 0, hi = candidates.Length;
        var best = Reduction(Select(hi));
        if (best < target)
            throw new SurgeonException($"Deleting every candidate channel allowed (MaxLayerRatio {options.MaxLayerRatio}, RoundTo {options.RoundTo}) removes {best:P1} of the {options.TargetKind}, short of the {target:P1} asked.");
        while (lo < hi)
        {
            var mid = lo + (hi - lo) / 2;
            if (Reduction(Select(mid)) >= target) hi = mid;
            else lo = mid + 1;
        }
        return Select(lo);
    }

    /// <summary>Adds one <c>DeleteChannels</c> job per entry of <paramref name="selection"/>.</summary>
    public static ModelSurgeon AddTo(ModelSurgeon surgeon, IReadOnlyDictionary<string, int[]> selection)
    {
        ArgumentNullException.ThrowIfNull(surgeon);
        ArgumentNullException.ThrowIfNull(selection);
        foreach (var (layer, channels) in selection.Where(s => s.Value.Length > 0)) surgeon.DeleteChannels(layer, channels);
        return surgeon;
    }

    private static long Cost(KerasModel model, CostKind kind)
    {
        var cost = ModelCost.Of(model);
        return kind == CostKind.Parameters ? cost.Parameters
            : cost.Macs ?? throw new SurgeonException($"The MACs of model '{model.Name}' are unknown (an input of undefined size); use a parameter target.");
    }

    /// <summary>How many of <paramref name="channels"/> to delete when <paramref name="wanted"/> are asked for: kept a multiple of roundTo, at least one, within the ratio cap.</summary>
    private static int Rounded(int channels, int wanted, int roundTo, double maxRatio)
    {
        var cap = (int)Math.Floor(maxRatio * channels);
        var remove = Math.Min(Math.Max(wanted, 0), Math.Min(cap, channels - 1));
        var keep = channels - remove;
        keep = (int)Math.Ceiling(keep / (double)roundTo) * roundTo;
        if (keep > channels) keep = channels;
        return Math.Max(0, channels - keep);
    }

    private sealed record Unit(IReadOnlyList<string> Members, double[] Scores);

    private static List<Unit> Units(KerasModel model, IReadOnlyDictionary<string, double[]> importance, GlobalSelectionOptions options)
    {
        var outputs = model.Outputs.Select(o => o.Layer).ToHashSet(StringComparer.Ordinal);
        var ignored = options.Ignored.ToHashSet(StringComparer.Ordinal);
        foreach (var (layer, scores) in importance)
        {
            var target = model.RequireLayer(layer);
            if (ChannelDeletion.ChannelCount(target) is not { } count) throw new SurgeonException($"Layer '{layer}' ({target.ClassName}) has no channels to select.");
            if (scores.Length != count) throw new SurgeonException($"Layer '{layer}' has {count} channels but {scores.Length} importance scores were given.");
        }
        double[] Normalized(string layer)
        {
            var s = importance[layer];
            var mean = s.Average(Math.Abs);
            return options.NormalizePerLayer && mean > 0 ? s.Select(v => v / mean).ToArray() : s;
        }
        var units = new List<Unit>();
        var grouped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in ChannelDeletion.CoupledGroups(model))
        {
            foreach (var m in group) grouped.Add(m);
            var scored = group.Where(importance.ContainsKey).ToList();
            if (scored.Count == 0 || group.Any(m => ignored.Contains(m) || outputs.Contains(m))) continue;
            var vectors = scored.Select(Normalized).ToList();
            var mean = Enumerable.Range(0, vectors[0].Length).Select(c => vectors.Average(v => v[c])).ToArray();
            units.Add(new Unit(group, mean));
        }
        foreach (var layer in importance.Keys.Where(l => !grouped.Contains(l) && !ignored.Contains(l) && !outputs.Contains(l)))
            units.Add(new Unit(new[] { layer }, Normalized(layer)));
        return units;
    }
}
