using System;
using System.Diagnostics;

namespace Surgeon;

/// <summary>
/// A job of a <see cref="SurgeryPlanAttribute">surgery plan</see>: delete output channels (Dense units, convolution
/// filters, recurrent units) of one layer, and repair every layer downstream. Checked at compile time against the
/// plan's architecture: the layer exists and has channels, each index is in range and listed once, not every channel
/// is listed, and no other job targets the layer.
/// </summary>
/// <example><code>[DeleteChannels("conv2d_1", 0, 5, 7)]</code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("SURGEON_KEEP_ATTRIBUTES")]
public sealed class DeleteChannelsAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="layer">The Keras layer name, e.g. <c>conv2d_1</c>.</param>
    /// <param name="channels">The channel indices to delete, from 0.</param>
    public DeleteChannelsAttribute(string layer, params int[] channels)
    {
        Layer = layer;
        Channels = channels;
    }

    /// <summary>The Keras layer name.</summary>
    public string Layer { get; }

    /// <summary>The channel indices to delete.</summary>
    public int[] Channels { get; }
}
