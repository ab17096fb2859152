using Surgeon.Generators.Architecture;
using Surgeon.Generators.Tests.Infrastructure;
using Surgeon.Shapes;
using Xunit.Abstractions;

namespace Surgeon.Generators.Tests;

/// <summary>
/// The generator and Surgeon.Runtime see the same graph: on every real and oracle model, the generator's canonical
/// architecture text and fingerprint equal the runtime's, its channel counts equal what DeleteChannels accepts (from the JSON the build step will hand over, and from the
/// JSON stored in the file itself), and its output shapes and parameter counts agree wherever the runtime knows them.
/// </summary>
public sealed class FingerprintAgreementTests(ITestOutputHelper output)
{
    [SkippableTheory]
    [MemberData(nameof(FixtureCatalog.ModelIds), MemberType = typeof(FixtureCatalog))]
    public void GeneratorAndRuntime_AgreeOnTheArchitecture(string id)
    {
        var path = FixtureCatalog.PathOf(id);
        KerasModel model;
        try
        {
            model = KerasFile.Load(path);
        }
        catch (KerasFormatException)
        {
            // Not a model the runtime loads by itself (e.g. a bare tfjs topology): the generator refuses it too.
            Assert.ThrowsAny<Exception>(() => ArchitectureParser.ParseGraph(File.ReadAllText(path), out _));
            return;
        }
        using var owned = model;
        var json = Fixtures.ArchitectureJson(path);
        if (model.IsOpaque)
        {
            var error = Assert.Throws<ArchitectureException>(() => ArchitectureParser.ParseGraph(json, out _));
            Assert.Contains("subclassed", error.Message);
            return;
        }

        var expected = ArchitectureFingerprint.CanonicalText(model);
        Assert.Equal(expected, Fingerprint.CanonicalText(ArchitectureParser.ParseGraph(json, out _)));
        var spec = ArchitectureParser.ParseSpec(json, CancellationToken.None);
        Assert.Equal(model.ArchitectureFingerprint, spec.Fingerprint);
        Assert.Equal(ArchitectureFingerprint.Topology(model), spec.TopologyFingerprint);
        if (FixtureCatalog.StoredArchitecture(path) is { } stored)
            Assert.Equal(expected, Fingerprint.CanonicalText(ArchitectureParser.ParseGraph(stored, out _)));

        var shapes = ShapeInference.For(model);
        var hasWeights = model.Source.Format != ModelFormat.ArchitectureJson;
        int shapesCompared = 0, paramsCompared = 0;
        foreach (var layer in spec.Layers)
        {
            var channels = LayerChannels.Count(model[layer.Name]);
            Assert.True(channels == layer.ChannelCount, $"{layer.Name} ({layer.ClassName}): runtime {channels} channels, generator {layer.ChannelCount}");
            if (shapes.OutputShapes(layer.Name) is { } runtimeShapes)
            {
                var formatted = runtimeShapes.Count == 1 ? ModelSummary.Format(runtimeShapes[0]) : "[" + string.Join(", ", runtimeShapes.Select(ModelSummary.Format)) + "]";
                Assert.True(formatted == layer.OutputShape, $"{layer.Name} ({layer.ClassName}): runtime shape {formatted}, generator {layer.OutputShape}");
                shapesCompared++;
            }
            if (hasWeights && layer.ParameterCount is { } parameters)
            {
                var runtimeCount = model[layer.Name].ParameterCount;
                Assert.True(runtimeCount == parameters, $"{layer.Name} ({layer.ClassName}): runtime {runtimeCount} parameters, generator {parameters}");
                paramsCompared++;
            }
        }
        output.WriteLine($"{id}: {spec.Layers.Count} layers, {shapesCompared} shapes and {paramsCompared} parameter counts compared; " +
            $"generator unknown: {spec.Layers.Count(l => l.OutputShape == "unknown")} shapes, {spec.Layers.Count(l => l.ParameterCount is null)} parameter counts");
    }
}
