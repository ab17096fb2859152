using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Surgeon.Generators.Tests.Infrastructure;

namespace Surgeon.Generators.Tests;

/// <summary>
/// Snapshots of the source generated for real models (and two built in code where no real fixture exists: 100+
/// layers, a nested shared model). Every case also compiles the output and requires zero errors and zero warnings,
/// with documentation warnings on and the plan class public.
/// </summary>
public sealed class GeneratedSourceSnapshotTests
{
    private const string KotlinDlLeNet = "kotlindl/tensorflow/src/test/resources/inference/lenet/modelConfig.json";
    private const string ToyResNet = "kotlindl/examples/src/main/resources/models/toyresnet/modelConfig.json";
    private const string DeepFm = "dl4j-test-resources/src/main/resources/modelimport/keras/examples/deepfm/deepfm.h5";
    private const string Keras3Sequential = "keras/model.keras";
    private const string Keras1Cnn = "dl4j-test-resources/src/main/resources/keras/simple/cnn_tf_model.h5";
    private const string NnomDenseNet = "nnom/examples/mnist-densenet/model/keras_mnist_model.h5/keras_mnist_model.h5";
    private const string TfjsCnn = "tfjs-layers/integration_tests/tfjs2keras/test-data/cnn/model.json";

    [SkippableFact]
    public void KotlinDlLeNet_ArchitectureJson() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>Prunes the KotlinDL LeNet.</summary>
        [SurgeryPlan("models/lenet.json")]
        [DeleteChannels("conv2d", 0, 5, 7)]
        [DeleteChannels("dense", 3)]
        public static partial class LeNetPlan
        {
            static partial void Configure(PlanBuilder plan) => plan.InsertLayerAfter(Layers.Dense1, LayerSpec.Dropout(0.25));
        }
        """, Json("models/lenet.json", KotlinDlLeNet));

    [SkippableFact]
    public void ToyResNet_ResidualFunctional() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>Prunes a residual network: conv2d_37 feeds an Add, so its partners lose the same channels.</summary>
        [SurgeryPlan("models/toyresnet.json")]
        [DeleteChannels("conv2d_37", 1, 2)]
        [DeleteChannels("dense_6", 0)]
        public static partial class ToyResNetPlan
        {
        }
        """, Json("models/toyresnet.json", ToyResNet));

    [SkippableFact]
    public void DeepFm_SharedLayerAndLambdas_H5() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>Prunes DeepFM; sum_of_tensors is called three times.</summary>
        [SurgeryPlan("models/deepfm.h5")]
        [DeleteChannels("dense_2", 0)]
        [DeleteLayer("dropout_2")]
        public static partial class DeepFmPlan
        {
        }
        """, Extracted("models/deepfm.h5", DeepFm));

    [SkippableFact]
    public void Keras3Sequential_KerasArchive() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>A Keras 3 .keras file.</summary>
        [SurgeryPlan("models/model.keras")]
        [DeleteLayer("masking")]
        public static partial class Keras3Plan
        {
        }
        """, Extracted("models/model.keras", Keras3Sequential));

    [SkippableFact]
    public void Keras1Cnn_H5() => Verify("""
        using Surgeon;

        namespace Plans.Keras1;

        /// <summary>A Keras 1.1 Sequential (Convolution2D, nb_filter) nested in another class.</summary>
        public static partial class Outer
        {
            /// <summary>The plan.</summary>
            [SurgeryPlan("models/cnn_tf_model.h5")]
            [DeleteChannels("convolution2d_1", 1)]
            [DeleteLayer("dropout_1")]
            public partial class CnnPlan
            {
            }
        }
        """, Extracted("models/cnn_tf_model.h5", Keras1Cnn));

    [SkippableFact]
    public void NnomDenseNet_LargestRealModel_H5() => Verify("""
        using Surgeon;

        /// <summary>A 51-layer DenseNet with Lambda layers (shapes unknown past them), in the global namespace.</summary>
        [SurgeryPlan("models/keras_mnist_model.h5")]
        [DeleteChannels("conv2d_1", 0, 1)]
        [DeleteChannels("conv2d_7", 4)]
        public static partial class DenseNetPlan
        {
        }
        """, Extracted("models/keras_mnist_model.h5", NnomDenseNet));

    [SkippableFact]
    public void TfjsCnn_ModelJson() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>A TensorFlow.js model.json, read directly.</summary>
        [SurgeryPlan("web/cnn/model.json")]
        [DeleteChannels("conv2d_Conv2D1", 0)]
        public static partial class TfjsPlan
        {
        }
        """, Json("web/cnn/model.json", TfjsCnn));

    [Fact]
    public void ResNet50Shaped_177Layers() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>A ResNet-50-shaped network (built in code: no real fixture has 100+ layers).</summary>
        [SurgeryPlan("models/resnet50.json")]
        [DeleteChannels("conv2_block1_1_conv", 0, 1, 2)]
        [DeleteChannels("conv5_block3_2_conv", 511)]
        [DeleteLayer("conv1_relu")]
        public static partial class ResNetPlan
        {
        }
        """, new ModelFile("/proj/models/resnet50.json", SyntheticArchitectures.ResNet50()));

    [Fact]
    public void NestedSharedModel() => Verify("""
        using Surgeon;

        namespace Plans;

        /// <summary>A nested Sequential called on two inputs (built in code: no real fixture nests a model).</summary>
        [SurgeryPlan("models/siamese.json")]
        [DeleteChannels("aux", 0)]
        public static partial class SiamesePlan
        {
        }
        """, new ModelFile("/proj/models/siamese.json", SyntheticArchitectures.Siamese));

    private static ModelFile Json(string projectPath, string fixture) =>
        new("/proj/" + projectPath, File.ReadAllText(Fixtures.Real(fixture)));

    /// <summary>What the build step produces for a binary model: obj/surgeon/&lt;path&gt;.architecture.json with metadata.</summary>
    private static ModelFile Extracted(string projectPath, string fixture) =>
        new("/proj/obj/surgeon/" + Path.GetFileName(projectPath) + ".architecture.json", Fixtures.ExtractedArchitecture(Fixtures.Real(fixture)),
            SurgeonModel: true, SourceModel: "/proj/" + projectPath);

    private static void Verify([StringSyntax("C#")] string source, ModelFile model,
        [CallerMemberName] string test = "", [CallerFilePath] string file = "")
    {
        var run = GeneratorHarness.Run(source, model);
        Assert.True(run.OutputProblems().Count == 0, "The generated code does not compile cleanly:\n" + string.Join("\n", run.OutputProblems().Select(Markup.Describe)));
        var files = new Dictionary<string, string>(run.Sources, StringComparer.Ordinal)
        {
            ["diagnostics"] = string.Join("\n", run.GeneratorDiagnostics.Select(Markup.Describe).Order(StringComparer.Ordinal)),
        };
        Snapshot.Match(files, test: test, callerFile: file);
    }
}
