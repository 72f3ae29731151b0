// The Inkwell playground: chat over /v1/chat/completions (the server applies the model's chat template) and raw
// completion over TGI's /generate_stream, both streamed as server-sent events and stoppable mid-stream; each token
// coloured by its probability with its top alternatives on hover. Plain browser JavaScript, nothing fetched from
// outside the server.
'use strict';

const $ = id => document.getElementById(id);
const state = { mode: 'chat', history: [], controller: null, modelId: 'inkwell' };

/** A problem in what the user typed, shown as is (no HTTP status). */
class InputError extends Error {}

// ---- requests ----

function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = $('api-key').value.trim();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

/** The server's error body in either API's shape (TGI: {error, error_type}; OpenAI: {error: {message}}). */
function errorMessage(body) {
  if (body && typeof body.error === 'string') return body.error;
  if (body && body.error && typeof body.error.message === 'string') return body.error.message;
  return null;
}

async function httpError(response) {
  const text = await response.text();
  let message = text;
  try { message = errorMessage(JSON.parse(text)) ?? text; } catch { /* not JSON: show the text */ }
  return new Error(`${response.status} ${response.statusText}: ${message}`);
}

/** The payloads of an SSE response's "data:" events, as they arrive. */
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter(l => l.startsWith('data:')).map(l => l.slice(5).replace(/^ /, '')).join('\n');
      if (data) yield data;
    }
  }
}

async function postStream(path, body, signal) {
  const response = await fetch(path, { method: 'POST', headers: headers(), body: JSON.stringify(body), signal });
  if (!response.ok) throw await httpError(response);
  return response;
}

// ---- the form ----

function number(id) {
  const text = $(id).value.trim();
  if (text === '') return null;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new InputError(`${$(id).labels[0]?.textContent ?? id}: "${text}" is not a number`);
  return value;
}

function settings() {
  return {
    temperature: number('temperature'),
    topP: number('top-p'),
    topK: number('top-k'),
    maxTokens: number('max-tokens'),
    repetitionPenalty: number('repetition-penalty'),
    seed: number('seed'),
    stop: $('stop-sequences').value.split(',').map(s => s.replace(/\\n/g, '\n')).filter(s => s.length > 0),
    topN: number('top-n') ?? 0,
  };
}

/** The JSON-schema or regex field: null when off; a schema that is not JSON is refused here, anything else by the server. */
function constraint() {
  const kind = $('grammar-kind').value;
  const text = $('grammar').value.trim();
  if (kind === 'none') return null;
  if (text === '') throw new InputError(kind === 'json' ? 'Constrained output: enter a JSON schema' : 'Constrained output: enter a regex');
  if (kind === 'regex') return { kind, value: text };
  try {
    return { kind, value: JSON.parse(text) };
  } catch (e) {
    throw new InputError('Constrained output: the JSON schema is not valid JSON (' + e.message + ')');
  }
}

/** OpenAI's chat body; top_k and repetition_penalty are vLLM's extensions, which the server implements. */
function chatBody(messages) {
  const s = settings();
  const body = { model: state.modelId, messages, stream: true, stream_options: { include_usage: true }, logprobs: true };
  if (s.topN > 0) body.top_logprobs = s.topN;
  if (s.maxTokens !== null) body.max_tokens = s.maxTokens;
  if (s.temperature !== null) body.temperature = s.temperature;
  if (s.topP !== null && s.topP !== 1) body.top_p = s.topP;
  if (s.topK) body.top_k = s.topK;
  if (s.repetitionPenalty !== null && s.repetitionPenalty !== 1) body.repetition_penalty = s.repetitionPenalty;
  if (s.seed !== null) body.seed = s.seed;
  if (s.stop.length) body.stop = s.stop;
  const c = constraint();
  if (c?.kind === 'json') body.response_format = { type: 'json_schema', json_schema: { name: 'playground', schema: c.value } };
  if (c?.kind === 'regex') body.guided_regex = c.value;
  return body;
}

/** TGI's body: temperature 0 means greedy (TGI refuses 0), so sampling options go only with a positive temperature. */
function generateBody(prompt) {
  const s = settings();
  const parameters = { details: true };
  if (s.maxTokens !== null) parameters.max_new_tokens = s.maxTokens;
  if (s.temperature !== null && s.temperature > 0) {
    parameters.do_sample = true;
    parameters.temperature = s.temperature;
    if (s.topP !== null && s.topP < 1) parameters.top_p = s.topP;
    if (s.topK) parameters.top_k = s.topK;
  } else if (s.temperature !== null && s.temperature < 0) {
    throw new InputError('Temperature must be >= 0');
  }
  if (s.repetitionPenalty !== null && s.repetitionPenalty !== 1) parameters.repetition_penalty = s.repetitionPenalty;
  if (s.seed !== null) parameters.seed = s.seed;
  if (s.stop.length) parameters.stop = s.stop;
  if (s.topN > 0) parameters.top_n_tokens = s.topN;
  const c = constraint();
  if (c) parameters.grammar = { type: c.kind, value: c.value };
  return { inputs: prompt, parameters };
}

// ---- token probabilities ----

function colour(logprob) {
  const p = Math.exp(logprob);
  return `hsl(${Math.round(120 * p)} 70% 82%)`;
}

function percent(logprob) {
  const p = 100 * Math.exp(logprob);
  return (p >= 10 ? p.toFixed(1) : p.toPrecision(2)) + '%';
}

/**
 * One generated token as a span coloured by its probability; alternatives: [{id?, text, logprob}], which may include
 * the token itself (matched by id where the API gives ids: TGI may spell an alternative differently, e.g. "▁there").
 */
function tokenSpan(text, logprob, alternatives, id) {
  const span = document.createElement('span');
  span.textContent = text;
  if (logprob === null || logprob === undefined) return span;
  span.className = 'tok';
  span.style.background = colour(logprob);
  span.dataset.logprob = String(logprob);
  span.tokenInfo = { id, text, logprob, alternatives };
  return span;
}

function showPopup(span) {
  const { id, text, logprob, alternatives } = span.tokenInfo;
  const isChosen = a => (id !== undefined && a.id !== undefined ? a.id === id : a.text === text);
  const popup = $('token-popup');
  popup.replaceChildren();
  const head = document.createElement('div');
  head.innerHTML = '<code></code> ';
  head.firstChild.textContent = JSON.stringify(text);
  head.append(`p = ${percent(logprob)} (logprob ${logprob.toFixed(3)})`);
  popup.append(head);
  const rows = alternatives.filter(a => !isChosen(a));
  rows.push({ text, logprob, chosen: true });
  rows.sort((a, b) => b.logprob - a.logprob);
  const table = document.createElement('table');
  for (const alt of rows) {
    const tr = table.insertRow();
    if (alt.chosen) tr.className = 'chosen';
    const code = document.createElement('code');
    code.textContent = JSON.stringify(alt.text);
    tr.insertCell().append(code);
    const p = tr.insertCell();
    p.className = 'p';
    p.textContent = percent(alt.logprob);
  }
  if (alternatives.length === 0) {
    const note = document.createElement('div');
    note.className = 'hint';
    note.textContent = 'Set "Alternatives per token" above 0 to see the alternatives.';
    popup.append(note);
  } else {
    popup.append(table);
  }
  const box = span.getBoundingClientRect();
  popup.style.left = `${window.scrollX + box.left}px`;
  popup.style.top = `${window.scrollY + box.bottom + 4}px`;
  popup.hidden = false;
}

function pinned() { return document.querySelector('.tok.pinned'); }

document.addEventListener('mouseover', e => {
  if (e.target.classList?.contains('tok') && !pinned()) showPopup(e.target);
});
document.addEventListener('mouseout', e => {
  if (e.target.classList?.contains('tok') && !pinned()) $('token-popup').hidden = true;
});
document.addEventListener('click', e => {
  const current = pinned();
  if (e.target.classList?.contains('tok')) {
    current?.classList.remove('pinned');
    if (current !== e.target) {
      e.target.classList.add('pinned');
      showPopup(e.target);
    }
    return;
  }
  if (current && !$('token-popup').contains(e.target)) {
    current.classList.remove('pinned');
    $('token-popup').hidden = true;
  }
});

// ---- chat ----

function messageElement(role, text) {
  const div = document.createElement('div');
  div.className = 'message ' + role;
  div.innerHTML = '<div class="role"></div><div class="body"></div><div class="meta"></div>';
  div.querySelector('.role').textContent = role;
  div.querySelector('.body').textContent = text;
  $('messages').append(div);
  return div;
}

async function runChat(signal, run) {
  const text = $('chat-input').value;
  if (text.trim() === '') throw new InputError('Type a message first');
  const system = $('system').value.trim();
  const messages = [...(system ? [{ role: 'system', content: system }] : []), ...state.history, { role: 'user', content: text }];
  const body = chatBody(messages);
  state.history.push({ role: 'user', content: text });
  const asked = messageElement('user', text);
  $('chat-input').value = '';
  const reply = messageElement('assistant', '');
  const out = reply.querySelector('.body');
  run.element = reply;
  try {
    const response = await postStream('/v1/chat/completions', body, signal);
    // Token texts are bytes that may split a character: decode them as one stream.
    const bytes = new TextDecoder();
    for await (const data of events(response)) {
      if (data === '[DONE]') break;
      const chunk = JSON.parse(data);
      const problem = errorMessage(chunk);
      if (problem) throw new Error('Generation failed: ' + problem);
      if (chunk.usage) run.usage = chunk.usage;
      for (const choice of chunk.choices ?? []) {
        const delta = choice.delta?.content ?? '';
        run.text += delta;
        const tokens = choice.logprobs?.content;
        if (tokens?.length) {
          for (const t of tokens) {
            const shown = t.bytes ? bytes.decode(Uint8Array.from(t.bytes), { stream: true }) : t.token;
            out.append(tokenSpan(shown, t.logprob, (t.top_logprobs ?? []).map(a => ({ text: a.token, logprob: a.logprob }))));
            run.tokens++;
          }
        } else if (delta) {
          out.append(delta);
        }
        if (choice.finish_reason) run.finish = choice.finish_reason;
      }
      progress(run);
    }
  } catch (e) {
    // Refused (bad parameters, a grammar that does not compile): the turn never happened; the text goes back to the box.
    if (!run.text && !signal.aborted) {
      state.history.pop();
      asked.remove();
      reply.remove();
      $('chat-input').value = text;
    }
    throw e;
  } finally {
    // A stopped reply stays in the conversation as far as it got, as llama-server's UI keeps it.
    if (run.text) state.history.push({ role: 'assistant', content: run.text });
  }
}

// ---- raw completion ----

async function runRaw(signal, run) {
  const prompt = $('raw-input').value;
  if (prompt === '') throw new InputError('Type a prompt first');
  const body = generateBody(prompt);
  const out = $('raw-output');
  out.replaceChildren();
  const shownPrompt = document.createElement('span');
  shownPrompt.className = 'prompt';
  shownPrompt.textContent = prompt;
  out.append(shownPrompt);
  run.element = out;
  const response = await postStream('/generate_stream', body, signal);
  for await (const data of events(response)) {
    const event = JSON.parse(data);
    const problem = errorMessage(event);
    if (problem) throw new Error('Generation failed: ' + problem);
    const t = event.token;
    run.tokens++;
    if (!t.special) {
      out.append(tokenSpan(t.text, t.logprob, (event.top_tokens ?? []).map(a => ({ id: a.id, text: a.text, logprob: a.logprob })), t.id));
      run.text += t.text;
    }
    if (event.details) {
      run.finish = event.details.finish_reason;
      run.usage = { prompt_tokens: event.details.input_length, completion_tokens: event.details.generated_tokens };
    }
    progress(run);
  }
}

// ---- running, stopping, status ----

function progress(run) {
  const seconds = (performance.now() - run.started) / 1000;
  const rate = seconds > 0 ? ` · ${(run.tokens / seconds).toFixed(1)} tokens/s` : '';
  $('status').textContent = `${run.tokens} tokens${rate}`;
}

function finished(run, how) {
  progress(run);
  const parts = [$('status').textContent, how];
  if (run.usage) parts.push(`prompt ${run.usage.prompt_tokens} + completion ${run.usage.completion_tokens} tokens`);
  $('status').textContent = parts.join(' · ');
  $('status').dataset.state = how.startsWith('stopped') ? 'stopped' : how.startsWith('finish') ? 'done' : 'failed';
  const meta = run.element?.querySelector?.('.meta');
  if (meta) meta.textContent = how;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

async function send() {
  if (state.controller) return;
  $('error').hidden = true;
  const controller = new AbortController();
  state.controller = controller;
  const run = { text: '', tokens: 0, finish: null, usage: null, element: null, started: performance.now() };
  $('send').disabled = true;
  $('stop').disabled = false;
  $('status').textContent = 'generating…';
  $('status').dataset.state = 'running';
  try {
    await (state.mode === 'chat' ? runChat : runRaw)(controller.signal, run);
    finished(run, `finish: ${run.finish ?? 'none'}`);
  } catch (e) {
    if (controller.signal.aborted) {
      finished(run, 'stopped');
    } else {
      showError(e.message);
      finished(run, 'failed');
    }
  } finally {
    state.controller = null;
    $('send').disabled = false;
    $('stop').disabled = true;
    refreshStats();
  }
}

function stop() {
  state.controller?.abort();
}

function setMode(mode) {
  state.mode = mode;
  $('chat-view').hidden = mode !== 'chat';
  $('raw-view').hidden = mode !== 'raw';
  for (const [id, m] of [['mode-chat', 'chat'], ['mode-raw', 'raw']]) {
    $(id).classList.toggle('active', m === mode);
    $(id).setAttribute('aria-pressed', String(m === mode));
  }
  $('send').textContent = mode === 'chat' ? 'Send' : 'Generate';
}

function clear() {
  state.history = [];
  $('messages').replaceChildren();
  $('raw-output').replaceChildren();
  $('error').hidden = true;
  $('status').textContent = '';
}

// ---- model info and live server stats ----

function fill(list, rows) {
  list.replaceChildren();
  for (const [name, value, key] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (key) dd.dataset.key = key;
    list.append(dt, dd);
  }
}

async function loadInfo() {
  try {
    const response = await fetch('/info', { headers: headers() });
    if (!response.ok) throw await httpError(response);
    const info = await response.json();
    state.modelId = info.model_id;
    fill($('model-info'), [
      ['Model', info.model_id, 'model_id'],
      ['Weights', info.model_dtype, 'model_dtype'],
      ['Device', info.model_device_type],
      ['Max input tokens', info.max_input_tokens, 'max_input_tokens'],
      ['Max total tokens', info.max_total_tokens, 'max_total_tokens'],
      ['KV cache tokens', info.max_batch_total_tokens],
      ['Max concurrent', info.max_concurrent_requests],
      ['Version', `${info.router} ${info.version}`],
    ]);
  } catch (e) {
    fill($('model-info'), [['/info', e.message]]);
  }
}

/** Prometheus text: each metric name to the sum over its label sets. */
function parseMetrics(text) {
  const sums = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) sums.set(match[1], (sums.get(match[1]) ?? 0) + value);
  }
  return sums;
}

function mean(m, name, scale, unit) {
  const count = m.get(name + '_count');
  return count ? `${(scale * m.get(name + '_sum') / count).toFixed(1)} ${unit}` : '–';
}

async function refreshStats() {
  if (document.hidden) return;
  try {
    const response = await fetch('/metrics', { headers: headers() });
    if (!response.ok) throw await httpError(response);
    const m = parseMetrics(await response.text());
    const value = name => String(m.get(name) ?? 0);
    fill($('server-stats'), [
      ['Requests', value('tgi_request_count'), 'tgi_request_count'],
      ['Succeeded', value('tgi_request_success'), 'tgi_request_success'],
      ['Failed', value('tgi_request_failure'), 'tgi_request_failure'],
      ['Queued', value('tgi_queue_size'), 'tgi_queue_size'],
      ['Running', value('tgi_batch_current_size'), 'tgi_batch_current_size'],
      ['KV blocks free', `${value('inkwell_kv_blocks_free')} / ${value('inkwell_kv_blocks_total')}`, 'kv_blocks'],
      ['Tokens generated', value('tgi_request_generated_tokens_sum'), 'generated_tokens'],
      ['Time to first token', mean(m, 'tgi_request_time_to_first_token_duration', 1000, 'ms')],
      ['Time per token', mean(m, 'tgi_request_mean_time_per_token_duration', 1000, 'ms')],
      ['Updated', new Date().toLocaleTimeString()],
    ]);
  } catch (e) {
    fill($('server-stats'), [['/metrics', e.message]]);
  }
}

// ---- wiring ----

$('api-key').value = sessionStorage.getItem('inkwell-api-key') ?? '';
$('api-key').addEventListener('change', () => {
  sessionStorage.setItem('inkwell-api-key', $('api-key').value.trim());
  loadInfo();
  refreshStats();
});
$('mode-chat').addEventListener('click', () => setMode('chat'));
$('mode-raw').addEventListener('click', () => setMode('raw'));
$('send').addEventListener('click', send);
$('stop').addEventListener('click', stop);
$('clear').addEventListener('click', clear);
for (const id of ['chat-input', 'raw-input']) {
  $(id).addEventListener('keydown', e => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    }
  });
}
loadInfo();
refreshStats();
setInterval(refreshStats, 2000);
