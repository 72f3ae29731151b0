namespace Inkwell.Cli.Tests.Lora;

/// <summary>`inkwell serve --lora-adapters` and LORA_ADAPTERS: a spec or adapter that does not fit stops startup with a clear error.</summary>
public sealed class ServeLoraAdaptersTests
{
    [Fact]
    public void A_malformed_spec_is_a_usage_error()
    {
        var (code, _, stderr) = CliProcess.Run("", "serve", "--lora-adapters", "=x", "--port", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("not name=path", stderr);
    }

    [Fact]
    public void A_missing_adapter_from_the_flag_or_the_environment_stops_startup_naming_it()
    {
        var (code, _, stderr) = CliProcess.Run("", "serve", "--lora-adapters", "gone=/nonexistent/adapter", "--port", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("LoRA adapter 'gone'", stderr);

        (code, _, stderr) = CliProcess.RunWithEnvironment("", new Dictionary<string, string?> { ["LORA_ADAPTERS"] = "envgone=/nonexistent/adapter" }, "serve", "--port", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("LoRA adapter 'envgone'", stderr);
    }
}
