using Microsoft.CodeAnalysis;

namespace Surgeon.Generators.Model;

/// <summary>The few facts about the compilation the binder needs (kept tiny so unrelated edits leave it unchanged).</summary>
/// <param name="HasRuntimeReference">Whether <c>Surgeon.Runtime</c> (its <c>PlanBuilder</c>) is referenced.</param>
internal sealed record CompilationFacts(bool HasRuntimeReference);

internal enum JobKind
{
    DeleteChannels,
    DeleteLayer,
}

/// <summary>One job attribute of a plan, as written.</summary>
/// <param name="Kind">Which job.</param>
/// <param name="Layer">The layer name argument (null if the argument is null).</param>
/// <param name="Channels">The channel arguments (DeleteChannels only).</param>
internal sealed record JobDeclaration(JobKind Kind, string? Layer, EquatableArray<int> Channels);

/// <summary>A type that contains the plan class: its keyword (<c>class</c>, <c>struct</c>, <c>record</c> ...) and name.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>A <c>[SurgeryPlan]</c> class, as strings: everything the binder and emitter need, no Roslyn objects.</summary>
/// <param name="Namespace">The namespace, or null for the global namespace.</param>
/// <param name="ContainingTypes">Enclosing types, outermost first.</param>
/// <param name="Keyword">The plan's own keyword: <c>class</c> or <c>record</c>.</param>
/// <param name="Name">The class name.</param>
/// <param name="FullName">The full name, for messages and the hint name.</param>
/// <param name="ModelPath">The attribute's model path (null if the argument is null).</param>
/// <param name="Jobs">The job attributes, in source order.</param>
internal sealed record PlanDeclaration(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string Keyword,
    string Name,
    string FullName,
    string? ModelPath,
    EquatableArray<JobDeclaration> Jobs);

/// <summary>Where a job's parts are in the source, for diagnostics only.</summary>
internal sealed record JobLocations(Location Attribute, Location Layer, EquatableArray<Location> Channels);

/// <summary>
/// Source locations of a plan's parts, a side-car used only to report diagnostics: it travels on the diagnostics path
/// and never enters a <see cref="PlanSpec"/>, so edits that only move code do not regenerate source. Locations compare
/// by syntax tree and span, so an edit in another file leaves the parse result equal (Unchanged).
/// </summary>
internal sealed record PlanLocations(Location Identifier, Location ModelPath, EquatableArray<JobLocations> Jobs);

/// <summary>Output of the parse step: the declaration (null when the class cannot be a plan), its locations, and diagnostics.</summary>
internal sealed record PlanParseResult(PlanDeclaration? Declaration, PlanLocations Locations, EquatableArray<Diagnostic> Diagnostics);

/// <summary>One member of the generated <c>Layers</c> class.</summary>
/// <param name="Identifier">The C# member name.</param>
/// <param name="Layer">The layer.</param>
internal sealed record LayerMember(string Identifier, LayerInfo Layer);

/// <summary>A validated job, ready to emit.</summary>
/// <param name="Kind">Which job.</param>
/// <param name="Member">The <c>Layers</c> member it targets.</param>
/// <param name="LayerName">The Keras layer name.</param>
/// <param name="Channels">Distinct channel indices, in the order written (DeleteChannels only).</param>
internal sealed record JobSpec(JobKind Kind, string Member, string LayerName, EquatableArray<int> Channels);

/// <summary>Everything the emitter needs for one plan: the caching firewall of the pipeline (equatable, no Roslyn objects).</summary>
internal sealed record PlanSpec(
    string? Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string Keyword,
    string Name,
    string FullName,
    string ModelPath,
    string ArchitectureFileName,
    string ModelName,
    string ModelClass,
    string? KerasVersion,
    string Fingerprint,
    string TopologyFingerprint,
    EquatableArray<LayerMember> Layers,
    EquatableArray<JobSpec> Jobs);

/// <summary>Output of the bind step: the spec (null when nothing can be generated) and the plan's diagnostics.</summary>
internal sealed record PlanBindResult(PlanSpec? Spec, EquatableArray<Diagnostic> Diagnostics);
