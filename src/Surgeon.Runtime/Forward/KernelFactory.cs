using Surgeon.Forward.Kernels;

namespace Surgeon.Forward;

/// <summary>Builds the kernel for a layer class; says why a layer cannot run.</summary>
internal static class KernelFactory
{
    /// <summary>Creates a kernel for a layer (its weights converted once); <see cref="CannotRun"/> was checked first.</summary>
    public delegate LayerKernel Builder(KerasLayer layer, ForwardContext context);

    private static readonly Dictionary<string, Builder> s_builders = BuildRegistry();

    private static Dictionary<string, Builder> BuildRegistry()
    {
        var r = new Dictionary<string, Builder>(StringComparer.Ordinal);
        CoreKernels.Register(r);
        RecurrentKernels.Register(r);
        AttentionKernels.Register(r);
        return r;
    }

    /// <summary>The layer classes that have a forward pass.</summary>
    public static IReadOnlyCollection<string> SupportedClasses => s_builders.Keys;

    /// <summary>Null when the layer can run; otherwise why not, for an error message.</summary>
    public static string? CannotRun(KerasLayer layer)
    {
        if (layer.ClassName == "InputLayer") return null;
        if (layer.NestedModel is { } nested)
        {
            foreach (var inner in nested.Layers)
            {
                if (CannotRun(inner) is { } reason) return $"its layer '{inner.Name}' ({inner.ClassName}) cannot run: {reason}";
            }
            return null;
        }
        return layer.ClassName switch
        {
            "Lambda" => "a Lambda layer holds Python code, which Surgeon cannot execute; replace it with built-in layers.",
            "TFOpLambda" or "TensorFlowOpLayer" or "SlicingOpLambda" => "it wraps a TensorFlow operation recorded from Python, which Surgeon cannot execute.",
            _ when !s_builders.ContainsKey(layer.ClassName) => LayerCatalog.IsKnown(layer.ClassName)
                ? "Surgeon has no forward pass for this class yet."
                : "it is a custom or unknown layer class; its computation is not in the file.",
            _ => null,
        };
    }

    public static LayerKernel Create(KerasLayer layer, ForwardContext context)
    {
        if (layer.NestedModel is not null) return new NestedModelKernel(layer, context);
        return s_builders[layer.ClassName](layer, context);
    }
}
