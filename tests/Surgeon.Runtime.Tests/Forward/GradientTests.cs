using Surgeon.Runtime.Tests.Infrastructure;
using static TorchSharp.torch;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>With requiresGrad the pass records gradients: d(output)/d(input) and activation gradients (Taylor criteria).</summary>
public sealed class GradientTests
{
    [SkippableFact]
    public void Forward_RequiresGrad_GradientMatchesFiniteDifference()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
        using var runner = ModelRunner.Create(model);
        using var batch = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet", "input.npy"));
        using var baseInput = batch[..1].clone();
        using var x = baseInput.clone().requires_grad_(true);

        using var result = runner.Forward(new[] { x }, new[] { "dense_Dense1" }, requiresGrad: true);
        using var loss = result.Outputs[0][0, 3];
        loss.backward();

        Assert.NotNull(x.grad);
        Assert.True(result.LayerOutputs["dense_Dense1"][0].requires_grad);
        // Central difference on one pixel with a visible gradient.
        using var grad = x.grad!.clone();
        var index = grad.abs().flatten().argmax().item<long>();
        const float h = 1e-2f;
        float Probe(float delta)
        {
            using var p = baseInput.clone();
            using var flat = p.view(-1);
            flat[index] = flat[index] + delta;
            using var y = runner.Predict(p);
            return y[0, 3].item<float>();
        }
        var numeric = (Probe(h) - Probe(-h)) / (2 * h);
        var analytic = grad.view(-1)[index].item<float>();
        Assert.True(Math.Abs(numeric - analytic) <= 1e-3 + 0.05 * Math.Abs(analytic), $"gradient {analytic} vs finite difference {numeric}");
    }

    [SkippableFact]
    public void Predict_DoesNotRecordGradients()
    {
        SharedFixtures.Require(SharedFixtures.OracleRoot);
        using var model = KerasFile.Load(Path.Combine(SharedFixtures.OracleRoot, "lenet"));
        using var runner = ModelRunner.Create(model);
        using var x = NpyFile.Read(Path.Combine(SharedFixtures.OracleRoot, "lenet", "input.npy")).requires_grad_(true);

        using var y = runner.Predict(x);

        Assert.False(y.requires_grad);
    }
}
