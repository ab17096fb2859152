using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;
using static TorchSharp.torch;

namespace Surgeon.Forward.Kernels;

/// <summary>Registers the core Keras layers: dense, convolution, pooling, normalisation, shape, merge, activations.</summary>
internal static class CoreKernels
{
    public static void Register(Dictionary<string, KernelFactory.Builder> r)
    {
        foreach (var name in new[] { "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization" })
            r[name] = (l, _) => new IdentityKernel(l);
        r["Masking"] = (l, _) => new MaskingKernel(l);
        r["Activation"] = (l, _) => new ActivationKernel(l);
        r["ReLU"] = (l, _) => new ReluKernel(l);
        r["LeakyReLU"] = (l, _) => new LeakyReluKernel(l);
        r["PReLU"] = (l, _) => new PreluKernel(l);
        r["ELU"] = (l, _) => new EluKernel(l);
        r["ThresholdedReLU"] = (l, _) => new ThresholdedReluKernel(l);
        r["Softmax"] = (l, _) => new SoftmaxKernel(l);
        r["Dense"] = (l, _) => new DenseKernel(l);
        r["TimeDistributedDense"] = (l, _) => new DenseKernel(l); // Keras 1: a Dense over the last axis of (N, T, F)
        foreach (var name in new[] { "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D" })
            r[name] = (l, c) => new ConvKernel(l, c);
        foreach (var name in new[] { "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose" })
            r[name] = (l, _) => new ConvTransposeKernel(l);
        foreach (var name in new[] { "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D" })
            r[name] = (l, _) => new PoolingKernel(l);
        foreach (var name in new[] { "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D" })
            r[name] = (l, _) => new GlobalPoolingKernel(l);
        r["BatchNormalization"] = (l, _) => new BatchNormKernel(l);
        r["LayerNormalization"] = (l, _) => new LayerNormKernel(l);
        r["GroupNormalization"] = (l, _) => new GroupNormKernel(l);
        r["UnitNormalization"] = (l, _) => new UnitNormKernel(l);
        r["Rescaling"] = (l, _) => new RescalingKernel(l);
        r["Normalization"] = (l, _) => new NormalizationKernel(l);
        r["Flatten"] = (l, _) => new FlattenKernel(l);
        r["Reshape"] = (l, _) => new ReshapeKernel(l);
        r["Permute"] = (l, _) => new PermuteKernel(l);
        r["RepeatVector"] = (l, _) => new RepeatVectorKernel(l);
        foreach (var name in new[] { "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D" })
            r[name] = (l, _) => new PaddingKernel(l, crop: false);
        foreach (var name in new[] { "Cropping1D", "Cropping2D", "Cropping3D" })
            r[name] = (l, _) => new PaddingKernel(l, crop: true);
        foreach (var name in new[] { "UpSampling1D", "UpSampling2D", "UpSampling3D" })
            r[name] = (l, _) => new UpSamplingKernel(l);
        foreach (var name in new[] { "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" })
            r[name] = (l, _) => new MergeKernel(l);
        r["Concatenate"] = (l, _) => new ConcatenateKernel(l);
        r["Dot"] = (l, _) => new DotKernel(l);
    }

    /// <summary>Rank of the spatial part of a layer's input: 1 for Conv1D, 2 for Conv2D, ...</summary>
    internal static int SpatialRank(string className) =>
        className.Contains("1D", StringComparison.Ordinal) ? 1 : className.Contains("3D", StringComparison.Ordinal) ? 3 : 2;

    /// <summary>
    /// Moves channels from last to second place (N, ..., C) to (N, C, ...) as a view (no copy): TorchSharp's conv and
    /// pooling kernels take channels-first shapes and handle channels-last memory natively.
    /// </summary>
    internal static Tensor ToChannelsFirst(Tensor x) =>
        x.permute(new long[] { 0, x.dim() - 1 }.Concat(Enumerable.Range(1, (int)x.dim() - 2).Select(i => (long)i)).ToArray());

    /// <summary>The inverse of <see cref="ToChannelsFirst"/>: (N, C, ...) to (N, ..., C), as a view.</summary>
    internal static Tensor ToChannelsLast(Tensor x) =>
        x.permute(new long[] { 0 }.Concat(Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i)).Append(1).ToArray());
}
