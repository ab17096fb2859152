namespace Surgeon.Generators;

/// <summary>Tracking names of the generator's pipeline steps; tests assert each step's caching behaviour.</summary>
internal static class SurgeonStepNames
{
    public const string CompilationFacts = nameof(CompilationFacts);
    public const string Architectures = nameof(Architectures);
    public const string ArchitectureSet = nameof(ArchitectureSet);
    public const string PlanDeclarations = nameof(PlanDeclarations);
    public const string BoundPlans = nameof(BoundPlans);
    public const string PlanSpecs = nameof(PlanSpecs);
    public const string PlanDiagnostics = nameof(PlanDiagnostics);
}
