namespace Inkwell.Server.Tests.Reliability;

/// <summary>The heavy reliability tests (fuzzers, storm, shutdown, memory bounds) run one at a time, beside the rest of the suite.</summary>
[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<FuzzServer>
{
    public const string Name = "Reliability";
}
