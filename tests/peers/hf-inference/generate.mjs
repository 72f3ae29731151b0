// Calls an Inkwell (TGI-compatible) server through @huggingface/inference, the Hugging Face JS client, and prints
// what the client returned as one JSON object on stdout. Driven by tests/Inkwell.Server.Tests/Conformance.
//
// Usage: node generate.mjs <endpoint-url> <prompt> <max_new_tokens>
//
// With `endpointUrl` and no provider, the client posts TGI's own body ({inputs, parameters[, stream: true]}) to the
// endpoint URL itself, i.e. TGI's `/` route (unary JSON array, or SSE when stream is true). Versions after 4.13.16
// send OpenAI /v1/completions instead, which is why package.json pins 4.13.16.
import { InferenceClient } from "@huggingface/inference";

const [endpointUrl, prompt, maxNewTokens] = process.argv.slice(2);
if (!endpointUrl || prompt === undefined || !maxNewTokens) {
  console.error("usage: node generate.mjs <endpoint-url> <prompt> <max_new_tokens>");
  process.exit(2);
}

// No access token: a local endpoint needs none (the client then sends no Authorization header).
const client = new InferenceClient(undefined, { endpointUrl });
const parameters = { max_new_tokens: Number(maxNewTokens), do_sample: false, details: true };
const options = { retry_on_error: false };

const unary = await client.textGeneration({ inputs: prompt, parameters }, options);

const tokens = [];
let final = null;
for await (const event of client.textGenerationStream({ inputs: prompt, parameters }, options)) {
  tokens.push({ id: event.token.id, text: event.token.text, special: event.token.special });
  if (event.generated_text !== null && event.generated_text !== undefined) {
    final = { generated_text: event.generated_text, details: event.details ?? null };
  }
}

process.stdout.write(JSON.stringify({ unary, stream: { tokens, final } }) + "\n");
