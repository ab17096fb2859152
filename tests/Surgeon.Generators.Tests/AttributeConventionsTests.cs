using System.Diagnostics;
using System.Reflection;

namespace Surgeon.Generators.Tests;

/// <summary>House rule 13: attributes are sealed, logic-free and [Conditional] so they vanish from user binaries.</summary>
public sealed class AttributeConventionsTests
{
    public static TheoryData<Type> AttributeTypes()
    {
        var data = new TheoryData<Type>();
        foreach (var t in typeof(SurgeryPlanAttribute).Assembly.GetExportedTypes().Where(t => typeof(Attribute).IsAssignableFrom(t)))
            data.Add(t);
        return data;
    }

    [Theory]
    [MemberData(nameof(AttributeTypes))]
    public void Attribute_IsSealedAndConditional(Type attribute)
    {
        Assert.True(attribute.IsSealed, $"{attribute.Name} must be sealed");
        var conditional = attribute.GetCustomAttribute<ConditionalAttribute>();
        Assert.NotNull(conditional);
        Assert.Equal("SURGEON_KEEP_ATTRIBUTES", conditional!.ConditionString);
    }

    [Fact]
    public void SurgeryPlan_KeepsModelPath()
    {
        var plan = new SurgeryPlanAttribute("models/lenet.h5");

        Assert.Equal("models/lenet.h5", plan.ModelPath);
    }
}
