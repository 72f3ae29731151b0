using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>
/// Issue 11 finding 1 through the HTTP routes: schemas whose regex expansion explodes are refused quickly, and the
/// server's memory stays bounded while it refuses and afterwards (the compile stops with its request).
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class GrammarBlowUpTests(SharedServer fixture) : IClassFixture<SharedServer>
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(15);
    private const long MaxGrowthBytes = 1L << 30; // the bug reached 5.1 GB in 50 s

    public static IEnumerable<object[]> Schemas()
    {
        string props(int n, Func<int, string> value) => string.Join(",", Enumerable.Range(0, n).Select(i => $"\"p{i}\":{value(i)}"));
        yield return ["ten self-references", "{\"type\":\"object\",\"properties\":{" + props(10, _ => "{\"$ref\":\"#\"}") + "}}"];
        yield return ["a chain of 22 nested $refs", "{\"$defs\":{" + string.Join(",", Enumerable.Range(0, 22).Select(i =>
            $"\"d{i}\":{{\"type\":\"object\",\"properties\":{{\"x\":{{\"$ref\":\"#/$defs/d{i + 1}\"}},\"y\":{{\"$ref\":\"#/$defs/d{i + 1}\"}}}}}}")) +
            ",\"d22\":{\"type\":\"integer\"}},\"$ref\":\"#/$defs/d0\"}"];
        yield return ["1,000 optional properties", "{\"type\":\"object\",\"properties\":{" + props(1000, _ => "{\"type\":\"string\"}") + "}}"];
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task BlowUpSchemas_AreRefusedQuickly_WithBoundedMemory(string name, string schema)
    {
        foreach (var (path, body) in new[]
        {
            ("/generate", new JsonObject { ["inputs"] = "a", ["parameters"] = new JsonObject { ["max_new_tokens"] = 4, ["grammar"] = new JsonObject { ["type"] = "json", ["value"] = JsonNode.Parse(schema) } } }),
            ("/v1/completions", new JsonObject { ["model"] = "m", ["prompt"] = "a", ["max_tokens"] = 4, ["guided_json"] = JsonNode.Parse(schema) }),
        })
        {
            using var process = Process.GetCurrentProcess();
            long baseline = Rss(process), peak = baseline;
            var clock = Stopwatch.StartNew();
            var send = fixture.Server.Client.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            while (!send.IsCompleted && clock.Elapsed < Answer + TimeSpan.FromSeconds(30))
            {
                peak = Math.Max(peak, Rss(process));
                await Task.WhenAny(send, Task.Delay(20));
            }
            using var response = await send;
            var elapsed = clock.Elapsed;
            string text = await response.Content.ReadAsStringAsync();
            // A refusal or a (bounded) compile that fits; either way in time and in memory.
            Assert.True((int)response.StatusCode is 200 or 400 or 422, $"{name} on {path}: {(int)response.StatusCode} {text}");
            if ((int)response.StatusCode != 200) ApiShape.AssertError(ApiShape.Of(path), text);
            Assert.True(elapsed < Answer, $"{name} on {path}: answered after {elapsed.TotalSeconds:0.0} s");
            // Afterwards nothing keeps growing: the compile ended with its request.
            await Task.Delay(1000);
            long settled = Rss(process);
            await Task.Delay(1500);
            peak = Math.Max(peak, Rss(process));
            Assert.True(peak - baseline < MaxGrowthBytes, $"{name} on {path}: RSS grew by {(peak - baseline) / 1048576} MiB");
            Assert.True(Rss(process) - settled < 256L << 20, $"{name} on {path}: RSS still growing after the answer");
        }
    }

    private static long Rss(Process process)
    {
        process.Refresh();
        return process.WorkingSet64;
    }
}
