namespace Surgeon;

/// <summary>Base class of every exception Surgeon throws on purpose.</summary>
public class SurgeonException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SurgeonException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A model file (or folder) could not be read or written: it is truncated, corrupt, of an unknown format,
/// or its content disagrees with itself. <see cref="Exception.Message"/> names the file, and the layer and
/// weight where one is at fault.
/// </summary>
public sealed class KerasFormatException : SurgeonException
{
    /// <summary>Creates the exception. The message is composed from the parts given.</summary>
    public KerasFormatException(string? filePath, string problem, string? layerName = null, string? weightName = null, Exception? inner = null)
        : base(Compose(filePath, problem, layerName, weightName), inner)
    {
        FilePath = filePath;
        LayerName = layerName;
        WeightName = weightName;
        Problem = problem;
    }

    /// <summary>The file or folder at fault, when known.</summary>
    public string? FilePath { get; }

    /// <summary>The layer at fault, when known.</summary>
    public string? LayerName { get; }

    /// <summary>The weight at fault, when known.</summary>
    public string? WeightName { get; }

    /// <summary>What is wrong, without the file and layer prefix.</summary>
    public string Problem { get; }

    private static string Compose(string? file, string problem, string? layer, string? weight)
    {
        var where = new List<string>();
        if (file is not null) where.Add($"'{file}'");
        if (layer is not null) where.Add($"layer '{layer}'");
        if (weight is not null) where.Add($"weight '{weight}'");
        return where.Count == 0 ? problem : $"{string.Join(", ", where)}: {problem}";
    }
}
