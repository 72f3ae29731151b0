using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Inkwell.TestSupport;

namespace Inkwell.Cli.Tests;

/// <summary>`inkwell serve`'s operations flags as a user passes them: --api-key / API_KEY, --cors-allow-origin lists.</summary>
public sealed class ServeOperationsTests
{
    [Fact]
    public void AnOriginThatIsNotOne_FailsTheStartWithAMessage()
    {
        var (code, _, stderr) = CliProcess.Run("", "serve", "--hostname", "127.0.0.1", "--port", LoopbackHost.ClosedPort().ToString(),
            "--grpc-port", LoopbackHost.ClosedPort().ToString(), "--cors-allow-origin", "example.com");
        Assert.Equal(1, code);
        Assert.Contains("--cors-allow-origin example.com", stderr);
    }

    [Fact]
    public async Task ApiKeyFromTheEnvironment_AndRepeatedCorsOrigins_TakeEffect()
    {
        int port = LoopbackHost.ClosedPort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "inkwell.dll"));
        foreach (var a in new[] { "serve", "--hostname", "127.0.0.1", "--port", port.ToString(), "--grpc-port", LoopbackHost.ClosedPort().ToString(),
                     "--num-threads", "1", "--cors-allow-origin", "https://a.example,https://b.example", "--cors-allow-origin", "http://localhost:5173" })
            psi.ArgumentList.Add(a);
        psi.Environment["API_KEY"] = "env-key";
        using var server = Process.Start(psi)!;
        _ = server.StandardError.ReadToEndAsync();
        _ = server.StandardOutput.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitForHealthAsync(http, server);

            var body = new { inputs = "Once upon a time", parameters = new { max_new_tokens = 2 } };
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("/generate", body)).StatusCode);
            var withKey = new HttpRequestMessage(HttpMethod.Post, "/generate") { Content = JsonContent.Create(body) };
            withKey.Headers.Add("Authorization", "Bearer env-key");
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(withKey)).StatusCode);

            foreach (var origin in new[] { "https://b.example", "http://localhost:5173" })
            {
                var preflight = new HttpRequestMessage(HttpMethod.Options, "/generate");
                preflight.Headers.Add("Origin", origin);
                preflight.Headers.Add("Access-Control-Request-Method", "POST");
                using var answer = await http.SendAsync(preflight);
                Assert.Equal(origin, answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
            }
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    private static async Task WaitForHealthAsync(HttpClient http, Process server)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline && !server.HasExited)
        {
            try
            {
                if ((await http.GetAsync("/health")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"inkwell serve did not become healthy (exited: {server.HasExited})");
    }
}
