using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests;

/// <summary>Every real and oracle model file loads into a consistent graph.</summary>
public sealed class FixtureLoadTests
{
    [SkippableTheory]
    [MemberData(nameof(SharedFixtures.ModelIds), MemberType = typeof(SharedFixtures))]
    public void Load_EveryFixture_GivesConsistentGraph(string id)
    {
        var fixture = SharedFixtures.Model(id);
        using var model = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });

        if (!model.IsOpaque)
        {
            Assert.NotEmpty(model.Layers);
            Assert.NotEmpty(model.Outputs);
            // The manifest lists the layer classes the file contains; every one must be in the graph.
            var classes = AllClasses(model).ToHashSet();
            foreach (var cls in fixture.Layers.Where(c => c != "__tensor__"))
            {
                Assert.Contains(cls, classes);
            }
        }
        foreach (var (layer, weight) in model.AllWeights())
        {
            Assert.True(weight.Value.numel() >= 0, $"{layer.Name}/{weight.Name}");
        }
    }

    private static IEnumerable<string> AllClasses(KerasModel model)
    {
        foreach (var l in model.Layers)
        {
            yield return l.ClassName;
            if (l.ConfigNode["layer"] is System.Text.Json.Nodes.JsonObject inner && inner["class_name"]?.GetValue<string>() is { } c) yield return c;
            if (l.NestedModel is { } nested)
            {
                foreach (var x in AllClasses(nested)) yield return x;
            }
        }
    }
}
