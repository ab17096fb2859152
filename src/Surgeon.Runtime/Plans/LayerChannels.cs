namespace Surgeon;

/// <summary>Which layers have output channels a surgery can delete, and how many.</summary>
public static class LayerChannels
{
    /// <summary>
    /// The number of output channels <see cref="ModelSurgeon.DeleteChannels"/> can delete from <paramref name="layer"/>
    /// (units, filters, an Embedding's output dimension, a wrapped recurrent layer's units), or null for a layer without
    /// channels. The Surgeon generator gives a plan's <see cref="ChannelLayerHandle"/>s the same counts.
    /// </summary>
    public static int? Count(KerasLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return ChannelDeletion.ChannelCount(layer);
    }
}
