using System;
using System.Diagnostics;

namespace Surgeon;

/// <summary>
/// Marks a <c>partial class</c> as a surgery plan for the Keras model at <see cref="ModelPath"/>.
/// The Surgeon source generator reads that model's architecture at compile time and adds to the class a nested
/// <c>Layers</c> class (one typed handle per layer), a <c>Fingerprint</c> constant, and <c>Run</c>/<c>Apply</c> methods
/// that perform the jobs declared with <see cref="DeleteChannelsAttribute"/> and <see cref="DeleteLayerAttribute"/>,
/// then those added in the class's <c>static partial void Configure(PlanBuilder plan)</c>.
/// </summary>
/// <remarks>
/// The generator reads no files: the architecture reaches it as an <c>AdditionalFiles</c> item, either the
/// architecture <c>.json</c> itself or <c>&lt;model file name&gt;.architecture.json</c>, which the Surgeon build step
/// extracts from a <c>.h5</c> or <c>.keras</c> file (see docs/diagnostics/SRG003.md for the matching rule).
/// </remarks>
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
