using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Surgeon.IO;

/// <summary>
/// Weights keyed by full variable name (<c>layer/kernel</c>), as TensorFlow.js writes them: each layer takes the
/// names under its own prefix, ordered the Keras way (trainable first, catalog order where the class is known).
/// </summary>
internal sealed class NamedWeightSource : IWeightSource
{
    private readonly string _file;
    private readonly Dictionary<string, Tensor> _weights;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly string _what;

    public NamedWeightSource(string file, Dictionary<string, Tensor> weights, string what)
    {
        _file = file;
        _weights = weights;
        _what = what;
    }

    public LayerWeights Load(LayerSite site)
    {
        var prefix = site.Name + "/";
        var mine = _weights.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (mine.Count == 0) return LayerWeights.None;
        var order = LayerCatalog.VariableNames(site.ClassName, site.Config);
        var named = mine.Select(k => (Key: k, Short: LayerCatalog.ShortName(k, site.Name, site.ClassName))).ToList();
        if (order is not null)
        {
            var missing = order.Where(o => named.All(n => n.Short != o)).ToList();
            if (missing.Count > 0 || named.Count != order.Length)
                throw new KerasFormatException(_file, $"the {_what} has weights [{string.Join(", ", named.Select(n => n.Short))}] but a {site.ClassName} with this config has [{string.Join(", ", order)}].", site.Name);
            named = order.Select(o => named.First(n => n.Short == o)).ToList();
        }
        var list = new List<KerasWeight>();
        foreach (var (key, shortName) in named)
        {
            _used.Add(key);
            list.Add(new KerasWeight(shortName, _weights[key], LayerCatalog.IsTrainableVariable(site.ClassName, shortName), key, null));
        }
        return new LayerWeights(list, new Dictionary<string, string>());
    }

    public void ThrowIfUnused()
    {
        var unused = _weights.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unused.Count > 0)
        {
            foreach (var k in unused) _weights[k].Dispose();
            throw new KerasFormatException(_file, $"the {_what} has weights that belong to no layer of the model: {string.Join(", ", unused.Take(5))}.");
        }
    }
}
