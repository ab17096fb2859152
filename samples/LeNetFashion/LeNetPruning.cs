using Surgeon;

namespace LeNetFashion;

/// <summary>
/// The pruning plan, checked by the compiler against lenet.json: the layer it prunes is a typed handle (a typo in its
/// name would not compile), and which of its units go is decided at run time from APoZ, in <see cref="Configure"/>.
/// The plan matches by topology (<see cref="PlanMatch.Topology"/>), so it applies again to the pruned models of later
/// steps, whose widths have changed.
/// </summary>
[SurgeryPlan("lenet.json")]
internal static partial class LeNetPruning
{
    /// <summary>Images on which APoZ is measured (set before <c>Run</c>).</summary>
    public static TorchSharp.torch.Tensor? ApozImages { get; set; }

    /// <summary>The units the last run deleted and their APoZ cutoff method.</summary>
    public static int[] LastDeleted { get; private set; } = Array.Empty<int>();

    static partial void Configure(PlanBuilder plan)
    {
        // As keras-surgeon's LeNet example: dense_1's units whose APoZ is high ("both": above min(0.99, mean + std)).
        var layer = Layers.Dense1;
        var apoz = Apoz.Compute(plan.Model, layer.Name, ApozImages ?? throw new InvalidOperationException("Set ApozImages first."), batchSize: 500);
        LastDeleted = Apoz.HighApoz(apoz, ApozMethod.Both);
        var units = LayerChannels.Count(layer.In(plan.Model));
        if (LastDeleted.Length > 0 && LastDeleted.Length < units) plan.DeleteChannels(layer, LastDeleted);
    }
}
