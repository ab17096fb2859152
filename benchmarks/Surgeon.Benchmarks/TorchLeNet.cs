using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Surgeon.Benchmarks;

/// <summary><see cref="LeNet"/> written directly as a TorchSharp module (NCHW), with the weights copied from a Keras model.</summary>
internal sealed class TorchLeNet : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly MaxPool2d pool;
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly Linear fc3;

    private readonly KerasOps ops;

    /// <summary>The module, with the weights of <paramref name="keras"/>; <paramref name="ops"/> is for <c>--explain</c> only.</summary>
    public TorchLeNet(KerasModel keras, KerasOps? ops = null) : base(nameof(TorchLeNet))
    {
        this.ops = ops ?? KerasOps.None;
        conv1 = nn.Conv2d(1, 6, 5);
        conv2 = nn.Conv2d(6, 16, 5);
        pool = nn.MaxPool2d(2);
        fc1 = nn.Linear(16 * 4 * 4, 120);
        fc2 = nn.Linear(120, 84);
        fc3 = nn.Linear(84, 10);
        RegisterComponents();

        TorchWeights.Conv(conv1, keras, "conv1");
        TorchWeights.Conv(conv2, keras, "conv2");
        // Keras flattens (h, w, c); this module flattens (c, h, w): reorder the kernel's rows to match.
        TorchWeights.Dense(fc1, keras, "fc1", k => k.reshape(4, 4, 16, 120).permute(2, 0, 1, 3).reshape(256, 120));
        TorchWeights.Dense(fc2, keras, "fc2");
        TorchWeights.Dense(fc3, keras, "predictions");
        eval();
    }

    public override Tensor forward(Tensor x)
    {
        x = pool.forward(ops.Relu(conv1.forward(x)));
        x = pool.forward(ops.Relu(conv2.forward(x)));
        x = ops.Relu(fc1.forward(x.flatten(1)));
        x = ops.Relu(fc2.forward(x));
        return fc3.forward(x).softmax(1);
    }
}
