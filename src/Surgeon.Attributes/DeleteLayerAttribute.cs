using System;
using System.Diagnostics;

namespace Surgeon;

/// <summary>
/// A job of a <see cref="SurgeryPlanAttribute">surgery plan</see>: delete one layer; its consumers take its input.
/// The layer must keep its input's shape (Dropout, BatchNormalization, activations ...), which is checked when the
/// plan runs. Checked at compile time: the layer exists and no other job targets it.
/// </summary>
/// <example><code>[DeleteLayer("dropout_1")]</code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
[Conditional("SURGEON_KEEP_ATTRIBUTES")]
public sealed class DeleteLayerAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="layer">The Keras layer name, e.g. <c>dropout_1</c>.</param>
    public DeleteLayerAttribute(string layer) => Layer = layer;

    /// <summary>The Keras layer name.</summary>
    public string Layer { get; }
}
