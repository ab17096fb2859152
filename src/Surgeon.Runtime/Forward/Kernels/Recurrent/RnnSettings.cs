using System.Text.Json.Nodes;
using static Surgeon.ConfigValues;

namespace Surgeon.Forward.Kernels.Recurrent;

/// <summary>
/// The options every Keras recurrent layer shares (<c>keras.layers.RNN</c>): what it returns, in which direction it
/// runs, and how masked steps show in its output.
/// </summary>
/// <param name="ReturnSequences">Return the output of every step (else only the last step's).</param>
/// <param name="ReturnState">Also return the final states (h; h and c for LSTMs).</param>
/// <param name="GoBackwards">Process the time steps last to first; the output sequence stays in processing order.</param>
/// <param name="ZeroOutputForMask">
/// Output zeros at masked steps; otherwise a masked step repeats the previous step's output (zeros before the first
/// unmasked step). Keras's default is false; <c>Bidirectional</c> sets it to <c>return_sequences</c>.
/// </param>
/// <param name="TimeMajor">tf.keras's <c>time_major</c>: inputs and output sequences are (time, batch, ...).</param>
internal sealed record RnnSettings(bool ReturnSequences, bool ReturnState, bool GoBackwards, bool ZeroOutputForMask, bool TimeMajor)
{
    /// <summary>Reads the shared options; a stateful layer cannot run (its state lives between predict calls).</summary>
    public static RnnSettings Read(KerasLayer layer)
    {
        var c = layer.ConfigNode;
        if (Bool(c, "stateful", false))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) is stateful (stateful=True): its state carries over between batches, which Surgeon does not model; re-create the layer with stateful=False to run it.");
        return new RnnSettings(
            Bool(c, "return_sequences", false),
            Bool(c, "return_state", false),
            Bool(c, "go_backwards", false),
            Bool(c, "zero_output_for_mask", false),
            Bool(c, "time_major", false));
    }

    /// <summary>
    /// An activation name from the config: <paramref name="dflt"/> when the key is absent, null (identity) when it
    /// is JSON null; unknown names stop the kernel's creation.
    /// </summary>
    public static string? Activation(KerasLayer layer, string[] keys, string dflt)
    {
        var c = layer.ConfigNode;
        var key = keys.FirstOrDefault(c.ContainsKey);
        string? name;
        if (key is null) name = dflt;
        else
        {
            name = c[key] switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out string? s) => s,
                // Keras 3 may serialise a built-in activation as {"class_name": "function", "config": "tanh", ...}.
                JsonObject o when o["config"] is JsonValue cv && cv.TryGetValue(out string? s) => s,
                JsonObject o when o["class_name"] is JsonValue cn && cn.TryGetValue(out string? s) => s,
                _ => throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) has an unreadable '{key}' setting: {c[key]!.ToJsonString()}."),
            };
        }
        if (!Activations.IsKnown(name))
            throw new SurgeonException($"Layer '{layer.Name}' ({layer.ClassName}) uses activation '{name}', which Surgeon does not know.");
        return name;
    }

    /// <summary>
    /// <c>recurrent_activation</c> (Keras 1: <c>inner_activation</c>). Keras 2 before 2.3 and Keras 1 defaulted to
    /// hard_sigmoid, later versions to sigmoid; Keras writes it into every config, so the default rarely matters.
    /// </summary>
    public static string? RecurrentActivation(KerasLayer layer, ForwardContext context) =>
        Activation(layer, new[] { "recurrent_activation", "inner_activation" }, context.KerasMajorVersion >= 3 ? "sigmoid" : "hard_sigmoid");
}
