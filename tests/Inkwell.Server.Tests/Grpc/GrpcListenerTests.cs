using Inkwell.Server.Grpc;
using Microsoft.Extensions.Configuration;

namespace Inkwell.Server.Tests.Grpc;

public class GrpcListenerTests
{
    [Fact]
    public void Port_DefaultsToTgis8033() =>
        Assert.Equal(8033, GrpcListener.PortFrom(new ConfigurationBuilder().Build()));

    [Fact]
    public void Port_ComesFromGrpcPortArgument() =>
        Assert.Equal(9001, GrpcListener.PortFrom(new ConfigurationBuilder().AddCommandLine(["--grpc-port", "9001"]).Build()));
}
