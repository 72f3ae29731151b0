namespace Inkwell.Server.Tgi;

/// <summary>An OpenAPI 3 description of the routes (served at /openapi.json, rendered minimally at /docs).</summary>
public static class OpenApiDocument
{
    public const string Json = """
    {
      "openapi": "3.0.3",
      "info": { "title": "Inkwell", "description": "Text generation inference (TGI-compatible REST API)", "version": "0.1.0" },
      "paths": {
        "/generate": { "post": { "summary": "Generate tokens", "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GenerateRequest" } } } },
          "responses": { "200": { "description": "Generated text", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GenerateResponse" } } } },
                         "422": { "description": "Input validation error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorResponse" } } } },
                         "424": { "description": "Generation error" }, "429": { "description": "Model is overloaded" } } } },
        "/generate_stream": { "post": { "summary": "Generate a stream of tokens (Server-Sent Events)", "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/GenerateRequest" } } } },
          "responses": { "200": { "description": "Generated tokens", "content": { "text/event-stream": { "schema": { "$ref": "#/components/schemas/StreamResponse" } } } },
                         "422": { "description": "Input validation error" }, "429": { "description": "Model is overloaded" } } } },
        "/": { "post": { "summary": "Generate tokens if stream == false or a stream of tokens if stream == true", "responses": { "200": { "description": "Generated text or stream" } } } },
        "/tokenize": { "post": { "summary": "Tokenize inputs", "responses": { "200": { "description": "Tokens", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/SimpleToken" } } } } } } } },
        "/info": { "get": { "summary": "Text Generation Inference endpoint info", "responses": { "200": { "description": "Served model info" } } } },
        "/health": { "get": { "summary": "Health check", "responses": { "200": { "description": "Everything is working fine" }, "503": { "description": "Text generation inference is down" } } } },
        "/metrics": { "get": { "summary": "Prometheus metrics scrape endpoint", "responses": { "200": { "description": "Prometheus Metrics", "content": { "text/plain": {} } } } } }
      },
      "components": { "schemas": {
        "GenerateParameters": { "type": "object", "properties": {
          "adapter_id": { "type": "string", "nullable": true, "description": "Lora adapter id" },
          "best_of": { "type": "integer", "minimum": 1, "nullable": true }, "decoder_input_details": { "type": "boolean" }, "details": { "type": "boolean" },
          "do_sample": { "type": "boolean" }, "frequency_penalty": { "type": "number", "nullable": true }, "grammar": { "type": "object", "nullable": true },
          "max_new_tokens": { "type": "integer", "minimum": 1, "nullable": true }, "repetition_penalty": { "type": "number", "nullable": true },
          "return_full_text": { "type": "boolean", "nullable": true }, "seed": { "type": "integer", "nullable": true },
          "stop": { "type": "array", "items": { "type": "string" } }, "temperature": { "type": "number", "nullable": true },
          "top_k": { "type": "integer", "nullable": true }, "top_n_tokens": { "type": "integer", "nullable": true }, "top_p": { "type": "number", "nullable": true },
          "truncate": { "type": "integer", "nullable": true }, "typical_p": { "type": "number", "nullable": true }, "watermark": { "type": "boolean" } } },
        "GenerateRequest": { "type": "object", "required": ["inputs"], "properties": { "inputs": { "type": "string" }, "parameters": { "$ref": "#/components/schemas/GenerateParameters" }, "stream": { "type": "boolean" } } },
        "Token": { "type": "object", "properties": { "id": { "type": "integer" }, "text": { "type": "string" }, "logprob": { "type": "number", "nullable": true }, "special": { "type": "boolean" } } },
        "GenerateResponse": { "type": "object", "properties": { "generated_text": { "type": "string" }, "details": { "type": "object", "nullable": true } } },
        "StreamResponse": { "type": "object", "properties": { "index": { "type": "integer" }, "token": { "$ref": "#/components/schemas/Token" }, "top_tokens": { "type": "array" }, "generated_text": { "type": "string", "nullable": true }, "details": { "type": "object", "nullable": true } } },
        "SimpleToken": { "type": "object", "properties": { "id": { "type": "integer" }, "text": { "type": "string" }, "start": { "type": "integer" }, "stop": { "type": "integer" } } },
        "ErrorResponse": { "type": "object", "properties": { "error": { "type": "string" }, "error_type": { "type": "string" } } }
      } }
    }
    """;

    public const string DocsHtml = """
    <!doctype html><html><head><meta charset="utf-8"><title>Inkwell API</title></head>
    <body><h1>Inkwell API</h1><p>The OpenAPI description is at <a href="/openapi.json">/openapi.json</a>.</p>
    <pre id="doc"></pre><script>fetch('/openapi.json').then(r => r.json()).then(d => { document.getElementById('doc').textContent = JSON.stringify(d, null, 2); });</script>
    </body></html>
    """;
}
