using System.Reflection;
using Surgeon.Forward;
using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests.Forward;

/// <summary>Keeps docs/layer-coverage.md true: every runnable class documented, every promised class runnable, every cited test real.</summary>
public sealed class LayerCoverageTests
{
    /// <summary>The layer classes the forward-execution issue requires.</summary>
    private static readonly string[] s_required =
    {
        "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
        "SeparableConv1D", "SeparableConv2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Flatten", "Reshape", "Permute", "RepeatVector",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
        "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Embedding", "SimpleRNN", "GRU", "LSTM", "ConvLSTM2D",
        "Bidirectional", "TimeDistributed", "Attention", "AdditiveAttention", "MultiHeadAttention", "Masking", "Rescaling", "Normalization", "InputLayer",
    };

    private static Dictionary<string, (string Forward, string[] Tests)> Table()
    {
        var path = Path.Combine(SharedFixtures.RepoRoot, "docs", "layer-coverage.md");
        var rows = new Dictionary<string, (string, string[])>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path).Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| Layer |", StringComparison.Ordinal) && !l.StartsWith("|---", StringComparison.Ordinal)))
        {
            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            rows[cells[0]] = (cells[1], cells[2].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        }
        return rows;
    }

    [Fact]
    public void EveryRequiredLayer_HasForwardPassAndDocumentedReference()
    {
        var table = Table();
        var supported = KernelFactory.SupportedClasses.Append("InputLayer").ToHashSet();
        foreach (var cls in s_required)
        {
            Assert.True(supported.Contains(cls), $"{cls} has no forward pass");
            Assert.True(table.TryGetValue(cls, out var row), $"{cls} has no row in docs/layer-coverage.md");
            Assert.Equal("yes", row.Forward);
            Assert.NotEmpty(row.Tests);
        }
    }

    [Fact]
    public void EveryRunnableClass_IsDocumented()
    {
        var table = Table();
        var aliases = new HashSet<string>(StringComparer.Ordinal) { "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D" };
        foreach (var cls in KernelFactory.SupportedClasses.Where(c => !aliases.Contains(c)))
            Assert.True(table.ContainsKey(cls), $"{cls} runs but docs/layer-coverage.md has no row for it");
    }

    [Fact]
    public void EveryCitedTest_Exists()
    {
        var assembly = typeof(LayerCoverageTests).Assembly;
        foreach (var (cls, row) in Table())
        {
            foreach (var test in row.Tests)
            {
                var parts = test.Split('.');
                Assert.True(parts.Length == 2, $"row {cls}: '{test}' is not Class.Method");
                var type = assembly.GetTypes().SingleOrDefault(t => t.Name == parts[0]);
                Assert.True(type is not null, $"row {cls}: test class {parts[0]} does not exist");
                var method = type!.GetMethod(parts[1], BindingFlags.Public | BindingFlags.Instance);
                Assert.True(method is not null && method.GetCustomAttributes().Any(a => a.GetType().Name.EndsWith("FactAttribute", StringComparison.Ordinal) || a.GetType().Name.EndsWith("TheoryAttribute", StringComparison.Ordinal)),
                    $"row {cls}: {test} is not a test method");
            }
        }
    }
}
