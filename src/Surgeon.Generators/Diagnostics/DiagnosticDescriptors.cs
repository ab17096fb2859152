using Microsoft.CodeAnalysis;

namespace Surgeon.Generators.Diagnostics;

/// <summary>
/// Every diagnostic the Surgeon generator reports. Each has an <c>SRGnnn</c> ID (never reused), a row in
/// AnalyzerReleases.Unshipped.md, a page docs/diagnostics/SRGnnn.md with a bad and a fixed example, and a test asserting
/// its ID, message and span.
/// </summary>
internal static class DiagnosticDescriptors
{
    /// <summary>
    /// Help links are the docs pages' paths in the repository; the packaging step may turn them into absolute URLs
    /// once the repository has a public address.
    /// </summary>
    private const string HelpLinkBase = "docs/diagnostics/";

    private const string Usage = "SurgeonUsage";
    private const string Model = "SurgeonModel";
    private const string Jobs = "SurgeonJobs";

    public static readonly DiagnosticDescriptor PlanMustBePartial = Create(
        "SRG001", "Surgery plan must be partial",
        "Surgery plan '{0}' must be declared partial, as must every type that contains it ('{1}' is not)",
        Usage, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor PlanMustNotBeGeneric = Create(
        "SRG002", "Surgery plan must not be generic",
        "Surgery plan '{0}' cannot be generic or nested in a generic type",
        Usage, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ModelNotFound = Create(
        "SRG003", "Model architecture not found among AdditionalFiles",
        "Model '{0}' of surgery plan '{1}' is not among the AdditionalFiles: list it in the project file as <SurgeonModel Include=\"{0}\" /> (the Surgeon package's build step extracts '{2}' from a .h5 or .keras file; an architecture .json is passed as it is)",
        Model, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ArchitectureUnreadable = Create(
        "SRG004", "Model architecture cannot be read",
        "The architecture of model '{0}' ('{1}') cannot be read: {2}",
        Model, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor UnknownLayer = Create(
        "SRG005", "Unknown layer name",
        "Model '{0}' has no layer named '{1}'{2}",
        Jobs, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor ChannelOutOfRange = Create(
        "SRG006", "Channel index out of range",
        "Channel index {0} is out of range for layer '{1}' ({2}, {3} channels: 0 to {4})",
        Jobs, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor SeveralJobsOnLayer = Create(
        "SRG007", "Several jobs target the same layer",
        "Layer '{0}' already has a {1} job in surgery plan '{2}'; one layer takes one job",
        Jobs, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor DuplicateChannel = Create(
        "SRG008", "Duplicate channel index",
        "Channel {0} is listed more than once for layer '{1}'; it is deleted once",
        Jobs, DiagnosticSeverity.Warning);

    public static readonly DiagnosticDescriptor DeletesEveryChannel = Create(
        "SRG009", "Job would delete every channel",
        "DeleteChannels on layer '{0}' lists all of its {1} channels, which would remove the layer's output; delete the layer instead",
        Jobs, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor LayerHasNoChannels = Create(
        "SRG010", "Layer has no channels to delete",
        "Layer '{0}' ({1}) has no channels to delete: only Dense, Embedding, convolution and recurrent layers (and Bidirectional or TimeDistributed wrappers of them) do",
        Jobs, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor NoChannelsGiven = Create(
        "SRG011", "No channels given",
        "DeleteChannels on layer '{0}' lists no channels",
        Jobs, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor RuntimeNotReferenced = Create(
        "SRG012", "Surgeon.Runtime is not referenced",
        "Surgery plan '{0}' needs a reference to Surgeon.Runtime, whose API the generated code calls",
        Usage, DiagnosticSeverity.Error);

    public static readonly DiagnosticDescriptor JobOnOtherDeclaration = Create(
        "SRG013", "Job attribute on another part of the plan",
        "[{0}] on another declaration of surgery plan '{1}' is ignored: put job attributes on the declaration that carries [SurgeryPlan]",
        Usage, DiagnosticSeverity.Warning);

    private static DiagnosticDescriptor Create(string id, string title, string message, string category, DiagnosticSeverity severity) =>
        new(id, title, message, category, severity, isEnabledByDefault: true, helpLinkUri: HelpLinkBase + id + ".md");
}
