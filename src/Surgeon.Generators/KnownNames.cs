namespace Surgeon.Generators;

/// <summary>Metadata names the generator looks up, and the build metadata it reads.</summary>
internal static class KnownNames
{
    // Constants rather than typeof(...).FullName: the generator then needs no Surgeon.Attributes assembly at run time
    // inside the compiler. A test checks them against the attribute types.
    public const string SurgeryPlanAttribute = "Surgeon.SurgeryPlanAttribute";
    public const string DeleteChannelsAttribute = "Surgeon.DeleteChannelsAttribute";
    public const string DeleteLayerAttribute = "Surgeon.DeleteLayerAttribute";

    /// <summary>A Runtime type the generated code calls; its presence means Surgeon.Runtime is referenced.</summary>
    public const string PlanBuilder = "Surgeon.PlanBuilder";

    /// <summary>The handle type of layers with channels, whose constant channel count the fluent-form analyzer reads.</summary>
    public const string ChannelLayerHandle = "Surgeon.ChannelLayerHandle";

    /// <summary>Item metadata marking an AdditionalFiles item as a model architecture (<c>SurgeonModel="true"</c>).</summary>
    public const string SurgeonModelMetadata = "build_metadata.AdditionalFiles.SurgeonModel";

    /// <summary>Item metadata of an extracted architecture: the full path of the model file it came from.</summary>
    public const string SurgeonSourceModelMetadata = "build_metadata.AdditionalFiles.SurgeonSourceModel";

    /// <summary>The project directory (MSBuild's <c>ProjectDir</c>, made visible with <c>CompilerVisibleProperty</c>).</summary>
    public const string ProjectDirProperty = "build_property.ProjectDir";

    /// <summary>Suffix of an architecture the build step extracted from a model file: <c>lenet.h5.architecture.json</c>.</summary>
    public const string ArchitectureSuffix = ".architecture.json";
}
