using Inkwell.Server.Grpc;

namespace Inkwell.Server.Tests.Grpc;

public class GrpcMessageEncodingTests
{
    [Theory]
    [InlineData("top_p must be > 0.0 and <= 1.0", "top_p must be > 0.0 and <= 1.0")]
    [InlineData("100% sure", "100%25 sure")]
    [InlineData("line\nbreak", "line%0Abreak")]
    [InlineData("café", "caf%C3%A9")]
    [InlineData("tab\t~", "tab%09~")]
    public void PercentEncodes_BytesOutsidePrintableAsciiAndPercent(string message, string expected)
    {
        Assert.Equal(expected, GrpcMessageEncoding.PercentEncode(message));
        Assert.Equal(message, GrpcMessageEncoding.PercentDecode(expected));
    }

    [Fact]
    public void PercentDecode_LeavesMalformedEscapesAsTheyAre() =>
        Assert.Equal("50%zz and %4", GrpcMessageEncoding.PercentDecode("50%zz and %4"));
}
