using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Inkwell.Client;
using Inkwell.Client.Tgi;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Http;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Http;

public sealed class ApiKeyServerFixture : IAsyncLifetime
{
    public const string Key = "s3cret-key";
    public TestServer Server { get; private set; } = null!;
    public async Task InitializeAsync() => Server = await TestServer.StartAsync(new ServerOptions { ApiKey = Key, GrpcPort = 0 });
    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>--api-key: every API wants the Bearer key (HTTP header, gRPC metadata); probes and scrapes stay open.</summary>
public sealed class ApiKeyTests(ApiKeyServerFixture fixture) : IClassFixture<ApiKeyServerFixture>
{
    private TestServer Server => fixture.Server;

    private static HttpRequestMessage Post(string path, object body, string? authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return request;
    }

    private static readonly object TgiBody = new { inputs = "Once upon a time", parameters = new { max_new_tokens = 3 } };
    private static readonly object OpenAIBody = new { model = "m", prompt = "Once upon a time", max_tokens = 3 };

    [Theory]
    [InlineData(null, ApiKeyCheck.MissingMessage)]
    [InlineData("Bearer wrong", ApiKeyCheck.WrongMessage)]
    [InlineData("Bearer s3cret-key-and-more", ApiKeyCheck.WrongMessage)]
    [InlineData("Basic s3cret-key", ApiKeyCheck.WrongMessage)]
    [InlineData("s3cret-key", ApiKeyCheck.WrongMessage)]
    public async Task Tgi_WithoutTheKey_Is401InTgisShape(string? authorization, string message)
    {
        using var response = await Server.Client.SendAsync(Post("/generate", TgiBody, authorization));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(message, body.GetProperty("error").GetString());
        Assert.Equal("unauthorized", body.GetProperty("error_type").GetString());
    }

    [Fact]
    public async Task OpenAI_WithoutTheKey_Is401WithOpenAIsInvalidApiKey()
    {
        using var response = await Server.Client.SendAsync(Post("/v1/completions", OpenAIBody, "Bearer nope"));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        // OpenAI's own answer to a wrong key: invalid_request_error with code invalid_api_key.
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
        Assert.Equal(ApiKeyCheck.WrongMessage, error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("/generate")]
    [InlineData("/v1/completions")]
    public async Task WithTheKey_TheCallRuns(string path)
    {
        // The scheme is case-insensitive (RFC 9110), the token exact.
        using var response = await Server.Client.SendAsync(Post(path, path == "/generate" ? TgiBody : OpenAIBody, "bearer " + ApiKeyServerFixture.Key));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/info", HttpStatusCode.Unauthorized)]
    [InlineData("/v1/models", HttpStatusCode.Unauthorized)]
    [InlineData("/health", HttpStatusCode.OK)]
    [InlineData("/live", HttpStatusCode.OK)]
    [InlineData("/metrics", HttpStatusCode.OK)]
    [InlineData("/openapi.json", HttpStatusCode.OK)]
    public async Task ProbesAndScrapesStayOpen_ModelFactsDoNot(string path, HttpStatusCode expected)
    {
        using var response = await Server.Client.GetAsync(path);
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task TheClientLibrary_SendsItsApiKey()
    {
        var address = Server.Client.BaseAddress!;
        using var withKey = new TgiClient(new InferenceClientOptions { BaseAddress = address, ApiKey = ApiKeyServerFixture.Key, MaxAttempts = 1 });
        var result = await withKey.GenerateAsync("Once upon a time", new GenerateParameters { MaxNewTokens = 3 });
        Assert.False(string.IsNullOrEmpty(result.GeneratedText));

        using var withoutKey = new TgiClient(new InferenceClientOptions { BaseAddress = address, MaxAttempts = 1 });
        var e = await Assert.ThrowsAsync<InferenceClientException>(() => withoutKey.GenerateAsync("Once upon a time", new GenerateParameters { MaxNewTokens = 3 }));
        Assert.Equal(401, e.StatusCode);
        Assert.Equal("unauthorized", e.ErrorType);
    }

    [Fact]
    public async Task Grpc_WantsTheKeyInMetadata_HealthStaysOpen()
    {
        using var channel = GrpcChannel.ForAddress($"http://{Server.GrpcTarget}");
        var client = new GenerationService.GenerationServiceClient(channel);
        var request = new BatchedGenerationRequest
        {
            Requests = { new GenerationRequest { Text = "Once upon a time" } },
            Params = new Parameters { Stopping = new StoppingCriteria { MaxNewTokens = 3 } },
        };

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await client.GenerateAsync(request));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal(ApiKeyCheck.MissingMessage, refused.Status.Detail);
        var wrong = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GenerateAsync(request, new Metadata { { "authorization", "Bearer wrong" } }));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);

        var answer = await client.GenerateAsync(request, new Metadata { { "authorization", "Bearer " + ApiKeyServerFixture.Key } });
        Assert.Equal(3u, answer.Responses.Single().GeneratedTokenCount);

        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public void TheCheck_ComparesWholeKeys()
    {
        var check = new ApiKeyCheck("k");
        Assert.True(check.Accepts("Bearer k"));
        Assert.True(check.Accepts("BEARER  k "));
        Assert.False(check.Accepts("Bearer "));
        Assert.False(check.Accepts("Bearer kk"));
        Assert.False(check.Accepts(""));
        Assert.Throws<ArgumentException>(() => new ApiKeyCheck(" "));
    }
}
