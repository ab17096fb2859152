namespace Surgeon;

/// <summary>
/// A surgery plan was run on a model whose architecture is not the one the plan was compiled against (their
/// <see cref="ArchitectureFingerprint"/>s differ): the model file changed, or another model was passed. The message
/// names the plan, the model and both fingerprints, and the first layers that differ.
/// </summary>
public sealed class PlanMismatchException : SurgeonException
{
    /// <summary>Creates the exception.</summary>
    public PlanMismatchException(string planName, string modelDescription, string expectedFingerprint, string actualFingerprint, IReadOnlyList<string> differences)
        : base(Compose(planName, modelDescription, expectedFingerprint, actualFingerprint, differences))
    {
        PlanName = planName;
        ExpectedFingerprint = expectedFingerprint;
        ActualFingerprint = actualFingerprint;
        Differences = differences;
    }

    /// <summary>The plan's full type name.</summary>
    public string PlanName { get; }

    /// <summary>The fingerprint of the architecture the plan was compiled against.</summary>
    public string ExpectedFingerprint { get; }

    /// <summary>The fingerprint of the model it was given.</summary>
    public string ActualFingerprint { get; }

    /// <summary>Layers that differ by name, class or channel count (empty when only the wiring differs).</summary>
    public IReadOnlyList<string> Differences { get; }

    private static string Compose(string plan, string model, string expected, string actual, IReadOnlyList<string> differences)
    {
        var what = differences.Count == 0
            ? "The layers match by name, class and channel count, so the wiring differs."
            : "Differences: " + string.Join("; ", differences.Take(5)) + (differences.Count > 5 ? $"; and {differences.Count - 5} more." : ".");
        return $"Surgery plan '{plan}' was compiled against an architecture with fingerprint {expected}, but {model} has fingerprint {actual}. " +
            what + " Rebuild the project against this model, or load the model the plan was written for.";
    }
}
