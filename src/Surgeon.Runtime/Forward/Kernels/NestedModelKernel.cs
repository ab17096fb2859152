using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>A Sequential or Functional model used as a layer: runs its own graph.</summary>
internal sealed class NestedModelKernel : LayerKernel
{
    private readonly ModelRunner _runner;

    public NestedModelKernel(KerasLayer layer, ForwardContext context) : base(layer) =>
        _runner = ModelRunner.Create(layer.NestedModel!, new RunOptions { Training = context.Training });

    public override KernelOutputs Forward(KernelInputs inputs, ForwardContext context) => new(_runner.RunNested(inputs.Tensors));

    public override void Dispose()
    {
        _runner.Dispose();
        base.Dispose();
    }
}
