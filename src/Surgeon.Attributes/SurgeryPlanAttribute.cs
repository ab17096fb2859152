using System;
using System.Diagnostics;

namespace Surgeon;

/// <summary>
/// Marks a <c>partial class</c> as a surgery plan for the Keras model at <see cref="ModelPath"/>.
/// The Surgeon source generator reads that model's architecture at compile time.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
[Conditional("SURGEON_KEEP_ATTRIBUTES")]
public sealed class SurgeryPlanAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="modelPath">Path of the model file (legacy <c>.h5</c>, <c>.keras</c> or architecture <c>.json</c>), relative to the project.</param>
    public SurgeryPlanAttribute(string modelPath) => ModelPath = modelPath;

    /// <summary>Path of the model file, relative to the project.</summary>
    public string ModelPath { get; }
}
