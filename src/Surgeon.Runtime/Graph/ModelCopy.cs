using static TorchSharp.torch;

namespace Surgeon;

/// <summary>Builds a new model with the same graph and new weight tensors (the input model is left untouched).</summary>
internal static class ModelCopy
{
    /// <summary>A copy of <paramref name="model"/> with every weight moved (copied) to <paramref name="device"/>.</summary>
    public static KerasModel To(KerasModel model, Device device) => Map(model, t => t.to(device, copy: true));

    /// <summary>A copy of <paramref name="model"/> whose weights are <paramref name="map"/> of the originals.</summary>
    public static KerasModel Map(KerasModel model, Func<Tensor, Tensor> map)
    {
        var created = new List<Tensor>();
        Tensor Track(Tensor t)
        {
            var r = map(t);
            created.Add(r);
            return r;
        }
        try
        {
            return MapInner(model, Track);
        }
        catch
        {
            foreach (var t in created) t.Dispose();
            throw;
        }
    }

    private static KerasModel MapInner(KerasModel model, Func<Tensor, Tensor> map)
    {
        var layers = model.Layers.Select(l => new KerasLayer(l.Entry, l.ClassName, l.Name, l.InboundNodes,
            l.Weights.Select(w => new KerasWeight(w.Name, map(w.Value), w.Trainable, w.StoredName, w.ArchivePath)).ToArray(),
            l.NestedModel is null ? null : MapInner(l.NestedModel, map), l.IsSynthesized)
        { ArchiveGroupNames = l.ArchiveGroupNames }).ToArray();
        return new KerasModel(model.Root, model.ClassName, model.Name, layers, model.Inputs, model.Outputs, model.Source)
        {
            IsOpaque = model.IsOpaque,
            Dialect = model.Dialect,
            TrainingConfig = model.TrainingConfig,
            ExtraWeights = model.ExtraWeights.Select(e => new StoredTensor(e.Path, map(e.Value))).ToArray(),
            ArchiveGroupNames = model.ArchiveGroupNames,
        };
    }
}
