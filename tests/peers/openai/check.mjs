// Drives a running Inkwell server with the official openai npm client (the xunit test
// tests/Inkwell.Server.Tests/OpenAI/OpenAINodeClientTests.cs starts the server and runs this).
// Usage: node check.mjs BASE_URL MODEL   (BASE_URL like http://127.0.0.1:1234/v1)
// Prints one JSON object with what it saw; exits non-zero on the first broken expectation.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 60_000 });
const messages = [
  { role: "system", content: "You tell stories." },
  { role: "user", content: "Tell me a story." },
];

function check(condition, what) {
  if (!condition) {
    console.error(`check failed: ${what}`);
    process.exit(1);
  }
}

const out = {};

const chat = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
check(chat.object === "chat.completion", "chat object");
check(chat.choices[0].message.role === "assistant", "chat role");
check(typeof chat.choices[0].message.content === "string", "chat content");
check(["stop", "length"].includes(chat.choices[0].finish_reason), "chat finish_reason");
check(chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens, "chat usage");
out.chat = chat.choices[0].message.content;

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let streamed = "";
let finish = null;
let usage = null;
for await (const chunk of stream) {
  check(chunk.object === "chat.completion.chunk", "chunk object");
  for (const choice of chunk.choices) {
    streamed += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}
check(streamed === out.chat, `streamed chat equals unary chat: ${JSON.stringify(streamed)} vs ${JSON.stringify(out.chat)}`);
check(finish === chat.choices[0].finish_reason, "streamed finish_reason");
check(usage && usage.completion_tokens === chat.usage.completion_tokens, "streamed usage");
out.chatStream = streamed;

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 20, temperature: 0 });
check(completion.object === "text_completion", "completion object");
out.completion = completion.choices[0].text;

let text = "";
for await (const chunk of await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 20, temperature: 0, stream: true })) {
  text += chunk.choices[0]?.text ?? "";
}
check(text === out.completion, "streamed completion equals unary completion");

const json = await client.chat.completions.create({ model, messages, max_tokens: 40, seed: 2, response_format: { type: "json_object" } });
out.json = json.choices[0].message.content;

const models = await client.models.list();
out.models = models.data.map((m) => m.id);
check(out.models.includes(model), "models list");

try {
  await client.chat.completions.create({ model, messages, temperature: 5 });
  check(false, "temperature 5 accepted");
} catch (e) {
  check(e instanceof OpenAI.BadRequestError, `400 as BadRequestError, got ${e}`);
  out.error = { status: e.status, type: e.type, param: e.param, code: e.code, message: e.message };
}
// A single-model server answers any `model` in a request, but has no other model to retrieve.
try {
  await client.models.retrieve("no-such-model");
  check(false, "unknown model retrieved");
} catch (e) {
  check(e instanceof OpenAI.NotFoundError, `404 as NotFoundError, got ${e}`);
  out.notFound = { status: e.status, code: e.code };
}

console.log(JSON.stringify(out));
