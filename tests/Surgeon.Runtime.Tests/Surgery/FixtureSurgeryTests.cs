using Surgeon.Runtime.Tests.Infrastructure;

namespace Surgeon.Runtime.Tests.Surgery;

/// <summary>
/// Proof on real files: every runnable fixture, every layer with channels (Dense, convolutions, Embedding, recurrent
/// layers and their wrappers) in turn loses its first and last channel; the result saves, reloads, and equals the
/// original with those channels zeroed. (A recurrent layer's units feed its own recurrence, so deleting them is not
/// zeroing its output: those results are run and reloaded, not compared.) Layers whose deletion reaches a layer
/// Surgeon cannot repair yet are counted, not hidden: the test prints them.
/// </summary>
public sealed class FixtureSurgeryTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [SkippableTheory]
    [MemberData(nameof(SharedFixtures.ModelIds), MemberType = typeof(SharedFixtures))]
    public void DeleteChannels_EveryPrunableLayerOfEveryFixture_IsEquivalentAndReloads(string id)
    {
        var fixture = SharedFixtures.Model(id);
        using var model = KerasFile.Load(fixture.Path, new LoadOptions { WeightsPath = fixture.WeightsPath });
        if (model.IsOpaque) return;
        try
        {
            using var probe = ModelRunner.Create(model);
        }
        catch (SurgeonException)
        {
            return; // not runnable (Lambda, stateful RNN, ...): nothing to compare against
        }
        var checkedLayers = 0;
        foreach (var layer in model.Layers.Where(l => ChannelDeletion.ChannelCount(l) > 2))
        {
            try
            {
                checkedLayers += Check(id, model, layer);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"{id}: deleting channels of '{layer.Name}' ({layer.ClassName}) failed: {e.Message}", e);
            }
        }
        output.WriteLine($"{id}: {checkedLayers} layer(s) pruned and verified.");
    }

    /// <summary>Prunes the first and last channel of <paramref name="layer"/>; 1 when the result was verified, else 0.</summary>
    private int Check(string id, KerasModel model, KerasLayer layer)
    {
        var count = ChannelDeletion.ChannelCount(layer)!.Value;
        SurgeryResult result;
        try
        {
            result = new ModelSurgeon(model).DeleteChannels(layer.Name, new[] { 0, count - 1 }).Operate();
        }
        catch (SurgeonException e)
        {
            output.WriteLine($"{id} {layer.Name}: not operable yet: {e.Message}");
            return 0;
        }
        using (result)
        {
            if (result.InexactLayers.Count > 0)
            {
                output.WriteLine($"{id} {layer.Name}: inexact by design: {string.Join("; ", result.InexactLayers)}");
                return 0;
            }
            var recurrent = layer.ClassName is "SimpleRNN" or "GRU" or "LSTM" or "Bidirectional" or "ConvLSTM1D" or "ConvLSTM2D" or "ConvLSTM3D"
                || (layer.ClassName == "TimeDistributed" && layer.ConfigNode["layer"]?["class_name"]?.GetValue<string>() is "SimpleRNN" or "GRU" or "LSTM");
            double difference;
            try
            {
                // Runs both models (shapes must agree); the value is only meaningful for non-recurrent layers.
                difference = result.MaxDifference(model, batch: 2, seed: 7);
                if (recurrent) difference = 0;
            }
            catch (SurgeonException e) when (e.Message.Contains("reaches model output", StringComparison.Ordinal))
            {
                output.WriteLine($"{id} {layer.Name}: changes a model output by design, not compared");
                return 0;
            }
            Assert.True(difference <= 1e-4, $"{id}: deleting channels of '{layer.Name}' differs from the masked original by {difference}");
            using var dir = new TempDir();
            KerasFile.Save(result.Model, dir.File("p.h5"));
            using var reloaded = KerasFile.Load(dir.File("p.h5"));
            Assert.Null(ModelComparison.FindDifference(result.Model, reloaded));
            if (layer.ClassName is not ("Dense" or "Conv1D" or "Conv2D" or "Conv3D")) output.WriteLine($"{id} {layer.Name} ({layer.ClassName}): pruned{(recurrent ? ", run" : " and verified")}, reloaded");
            return 1;
        }
    }
}
