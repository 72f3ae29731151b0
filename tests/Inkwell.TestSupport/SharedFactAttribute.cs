using Xunit;

namespace Inkwell.TestSupport;

/// <summary>A fact that needs ../shared: skipped with a clear reason when that folder is absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute()
    {
        if (!RepoPaths.HasShared) Skip = $"needs ../shared beside the repository ({RepoPaths.Shared} not found)";
    }
}

/// <summary>A theory that needs ../shared: skipped with a clear reason when that folder is absent.</summary>
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute()
    {
        if (!RepoPaths.HasShared) Skip = $"needs ../shared beside the repository ({RepoPaths.Shared} not found)";
    }
}
