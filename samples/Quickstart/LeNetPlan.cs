using Surgeon;
using TorchSharp;

namespace Quickstart;

/// <summary>
/// A surgery plan for the LeNet in samples/models/lenet.h5. The compiler checks the attributes against the model's
/// architecture (layer names, channel indices: try a typo), and the source generator adds typed handles for its layers
/// (<see cref="Layers"/>), its <see cref="Fingerprint"/>, and <see cref="Run"/>.
/// </summary>
[SurgeryPlan("../models/lenet.h5")]
[DeleteChannels("conv2d_Conv2D1", 0, 3)]            // 2 of its 6 filters
[DeleteChannels("dense_Dense1", 10, 20, 30, 40)]    // 4 of its 120 units
internal static partial class LeNetPlan
{
    /// <summary>Channels chosen at run time: the quarter of conv2d_Conv2D2's filters with the smallest L1 norm.</summary>
    static partial void Configure(PlanBuilder plan)
    {
        var conv = Layers.Conv2dConv2D2;                               // a ChannelLayerHandle: 16 channels, known at compile time
        using var scope = torch.NewDisposeScope();
        var kernel = conv.In(plan.Model).FindWeight("kernel")!.Value;  // Keras layout (height, width, in, out)
        var norms = kernel.abs().sum(new long[] { 0, 1, 2 });
        var weakest = norms.argsort().data<long>().Take(conv.ChannelCount / 4).Select(i => (int)i).ToArray();
        plan.DeleteChannels(conv, weakest);
    }
}
