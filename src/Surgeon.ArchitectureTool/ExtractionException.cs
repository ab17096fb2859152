namespace Surgeon.ArchitectureTool;

/// <summary>A model file whose architecture cannot be extracted; <see cref="Code"/> is the build error's ID.</summary>
internal sealed class ExtractionException : Exception
{
    /// <summary>The model file does not exist (docs/diagnostics/SRG100.md).</summary>
    public const string NotFound = "SRG100";

    /// <summary>The model file exists but holds no readable Keras architecture (docs/diagnostics/SRG101.md).</summary>
    public const string Unreadable = "SRG101";

    public ExtractionException(string code, string message, Exception? inner = null)
        : base(message, inner) => Code = code;

    public string Code { get; }
}
