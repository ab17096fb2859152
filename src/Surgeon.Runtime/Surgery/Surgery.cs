namespace Surgeon;

/// <summary>
/// One-call surgery: each method runs a single job through <see cref="ModelSurgeon"/> and returns the new model
/// (the caller owns and disposes it; the input model is never changed). Use <see cref="ModelSurgeon"/> directly to
/// apply several jobs in one pass or to read what changed.
/// </summary>
public static class Surgery
{
    /// <summary>Deletes output channels of <paramref name="layer"/> and repairs everything downstream.</summary>
    public static KerasModel DeleteChannels(KerasModel model, string layer, IEnumerable<int> channels, CouplingPolicy coupling = CouplingPolicy.DeleteFromGroup) =>
        new ModelSurgeon(model) { Coupling = coupling }.DeleteChannels(layer, channels).Operate().Model;

    /// <summary>Deletes <paramref name="layer"/>; its consumers take its input.</summary>
    public static KerasModel DeleteLayer(KerasModel model, string layer) => new ModelSurgeon(model).DeleteLayer(layer).Operate().Model;

    /// <summary>Inserts <paramref name="newLayer"/> between <paramref name="layer"/> and its input.</summary>
    public static KerasModel InsertLayerBefore(KerasModel model, string layer, LayerSpec newLayer) => new ModelSurgeon(model).InsertLayerBefore(layer, newLayer).Operate().Model;

    /// <summary>Inserts <paramref name="newLayer"/> after <paramref name="layer"/>; its consumers take the new layer's output.</summary>
    public static KerasModel InsertLayerAfter(KerasModel model, string layer, LayerSpec newLayer) => new ModelSurgeon(model).InsertLayerAfter(layer, newLayer).Operate().Model;

    /// <summary>Puts <paramref name="newLayer"/> in place of <paramref name="layer"/>.</summary>
    public static KerasModel ReplaceLayer(KerasModel model, string layer, LayerSpec newLayer) => new ModelSurgeon(model).ReplaceLayer(layer, newLayer).Operate().Model;
}
