using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Surgeon.Benchmarks;

/// <summary>
/// <see cref="ResNet50"/> written directly as a TorchSharp module (NCHW, torchvision style: in-place ReLU and
/// residual add, padding inside the convolutions and the max pooling), with the weights copied from a Keras model.
/// </summary>
/// <remarks>
/// It computes the same function as the Keras model:
/// <list type="bullet">
/// <item><c>conv1_pad</c> (zeros, 3) + 7x7/2 valid is <c>Conv2d(padding: 3)</c>.</item>
/// <item><c>pool1_pad</c> (zeros, 1) + 3x3/2 valid max pooling is <c>MaxPool2d(padding: 1)</c> (PyTorch pads with
/// -inf): the input is a ReLU output (>= 0) and every window holds at least one real value, so the maxima agree.</item>
/// <item>3x3 stride-1 <c>same</c> is TensorFlow's symmetric pad 1, <c>Conv2d(padding: 1)</c>.</item>
/// <item>The stride of a stack's first block is on its first 1x1 convolution (and the shortcut), as in Keras's
/// ResNet50 v1; torchvision's v1.5 puts it on the 3x3 instead.</item>
/// </list>
/// </remarks>
internal sealed class TorchResNet50 : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly MaxPool2d maxpool;
    private readonly ModuleList<Bottleneck> blocks;
    private readonly AdaptiveAvgPool2d avgpool;
    private readonly Linear fc;

    private readonly KerasOps ops;

    /// <summary>The module, with the weights of <paramref name="keras"/>; <paramref name="ops"/> is for <c>--explain</c> only.</summary>
    public TorchResNet50(KerasModel keras, KerasOps? ops = null) : base(nameof(TorchResNet50))
    {
        this.ops = ops ?? KerasOps.None;
        conv1 = nn.Conv2d(3, 64, 7, stride: 2, padding: this.ops.Padding ? 0 : 3);
        bn1 = nn.BatchNorm2d(64, eps: ResNet50.Epsilon);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: this.ops.Padding ? 0 : 1);
        blocks = new ModuleList<Bottleneck>();
        var inChannels = 64L;
        for (var s = 0; s < ResNet50.Stacks.Length; s++)
        {
            var (count, filters, stride) = ResNet50.Stacks[s];
            for (var b = 1; b <= count; b++)
            {
                blocks.Add(new Bottleneck(keras, this.ops, $"conv{s + 2}_block{b}", inChannels, filters, b == 1 ? stride : 1, projection: b == 1));
                inChannels = 4 * filters;
            }
        }
        avgpool = nn.AdaptiveAvgPool2d(1);
        fc = nn.Linear(inChannels, 1000);
        RegisterComponents();

        TorchWeights.Conv(conv1, keras, "conv1_conv");
        TorchWeights.BatchNorm(bn1, keras, "conv1_bn");
        TorchWeights.Dense(fc, keras, "predictions");
        eval();
    }

    public override Tensor forward(Tensor x)
    {
        if (ops.Padding) x = nn.functional.pad(x, [3, 3, 3, 3]);
        x = ops.Relu(ops.BatchNorm(bn1, conv1.forward(x)));
        if (ops.Padding) x = nn.functional.pad(x, [1, 1, 1, 1]);
        x = maxpool.forward(x);
        foreach (var block in blocks) x = block.forward(x);
        x = avgpool.forward(x).flatten(1);
        return fc.forward(x).softmax(1);
    }

    /// <summary>Keras's <c>block1</c>: 1x1 (stride), 3x3, 1x1 (4x filters), BatchNorm after each, optional projection.</summary>
    internal sealed class Bottleneck : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv3;
        private readonly BatchNorm2d bn3;
        private readonly Conv2d? shortcut_conv;
        private readonly BatchNorm2d? shortcut_bn;
        private readonly KerasOps ops;

        public Bottleneck(KerasModel keras, KerasOps ops, string name, long inChannels, long filters, long stride, bool projection) : base(name)
        {
            this.ops = ops;
            conv1 = nn.Conv2d(inChannels, filters, 1, stride: stride);
            bn1 = nn.BatchNorm2d(filters, eps: ResNet50.Epsilon);
            conv2 = nn.Conv2d(filters, filters, 3, padding: ops.Padding ? 0 : 1);
            bn2 = nn.BatchNorm2d(filters, eps: ResNet50.Epsilon);
            conv3 = nn.Conv2d(filters, 4 * filters, 1);
            bn3 = nn.BatchNorm2d(4 * filters, eps: ResNet50.Epsilon);
            if (projection)
            {
                shortcut_conv = nn.Conv2d(inChannels, 4 * filters, 1, stride: stride);
                shortcut_bn = nn.BatchNorm2d(4 * filters, eps: ResNet50.Epsilon);
            }
            RegisterComponents();

            TorchWeights.Conv(conv1, keras, name + "_1_conv");
            TorchWeights.BatchNorm(bn1, keras, name + "_1_bn");
            TorchWeights.Conv(conv2, keras, name + "_2_conv");
            TorchWeights.BatchNorm(bn2, keras, name + "_2_bn");
            TorchWeights.Conv(conv3, keras, name + "_3_conv");
            TorchWeights.BatchNorm(bn3, keras, name + "_3_bn");
            if (projection)
            {
                TorchWeights.Conv(shortcut_conv!, keras, name + "_0_conv");
                TorchWeights.BatchNorm(shortcut_bn!, keras, name + "_0_bn");
            }
        }

        public override Tensor forward(Tensor x)
        {
            var y = ops.Relu(ops.BatchNorm(bn1, conv1.forward(x)));
            if (ops.Padding) y = nn.functional.pad(y, [1, 1, 1, 1]);
            y = ops.Relu(ops.BatchNorm(bn2, conv2.forward(y)));
            y = ops.BatchNorm(bn3, conv3.forward(y));
            var identity = shortcut_conv is null ? x : ops.BatchNorm(shortcut_bn!, shortcut_conv.forward(x));
            return ops.Relu(ops.Add(y, identity));
        }
    }
}

/// <summary>
/// For <c>forward --explain</c>: which of Surgeon's per-layer operation sequences a TorchSharp module imitates, so
/// that the cost of each difference can be measured on its own. <see cref="None"/> is the natural module.
/// </summary>
/// <param name="KerasBatchNorm">
/// Inference BatchNormalization as <c>BatchNormKernel.Forward</c> computes it: <c>(x - mean) * rsqrt(var + eps) * gamma + beta</c>,
/// four passes over the activation (and four fresh tensors), instead of the single fused <c>batch_norm</c>.
/// </param>
/// <param name="OutOfPlace">ReLU and the residual add out of place (a fresh tensor each), as every Surgeon kernel does.</param>
/// <param name="Padding">Padding as a separate <c>F.pad</c> copy before the convolution or pooling (Keras's ZeroPadding2D
/// layers, and the explicit SAME padding of <c>ConvKernel.Forward</c>), instead of the convolution's own padding.</param>
internal sealed record KerasOps(bool KerasBatchNorm = false, bool OutOfPlace = false, bool Padding = false)
{
    public static readonly KerasOps None = new();

    public Tensor BatchNorm(BatchNorm2d bn, Tensor x)
    {
        if (!KerasBatchNorm) return bn.forward(x);
        long[] shape = [1, x.shape[1], 1, 1];
        var y = (x - bn.running_mean!.reshape(shape)) * (bn.running_var!.reshape(shape) + ResNet50.Epsilon).rsqrt();
        y = y * bn.weight!.reshape(shape);
        return y + bn.bias!.reshape(shape);
    }

    public Tensor Relu(Tensor x) => OutOfPlace ? x.relu() : x.relu_();

    public Tensor Add(Tensor x, Tensor y) => OutOfPlace ? x + y : x.add_(y);
}
