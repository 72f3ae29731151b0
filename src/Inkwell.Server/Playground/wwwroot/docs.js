// The /docs page: lists the operations of the server's OpenAPI document (/openapi.json) by tag and lets each be
// tried with a form: path parameters, an editable JSON body pre-filled with the document's example, the API key
// as a Bearer token. Streamed answers are shown as they arrive.
'use strict';

const $ = id => document.getElementById(id);

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function load() {
  $('api-key').value = sessionStorage.getItem('inkwell-api-key') ?? '';
  $('api-key').addEventListener('change', () => sessionStorage.setItem('inkwell-api-key', $('api-key').value.trim()));
  let doc;
  try {
    const response = await fetch('/openapi.json');
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    doc = await response.json();
  } catch (e) {
    $('error').textContent = 'Could not load /openapi.json: ' + e.message;
    $('error').hidden = false;
    return;
  }
  $('description').textContent = `${doc.info.title} ${doc.info.version}: ${doc.info.description}`;
  const byTag = new Map((doc.tags ?? []).map(t => [t.name, { description: t.description, operations: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = op.tags?.[0] ?? 'Other';
      if (!byTag.has(tag)) byTag.set(tag, { description: '', operations: [] });
      byTag.get(tag).operations.push({ path, method, op });
    }
  }
  const root = $('operations');
  for (const [name, tag] of byTag) {
    const heading = element('h2', 'tag', name);
    if (tag.description) heading.append(element('small', null, tag.description));
    root.append(heading);
    for (const o of tag.operations) root.append(operation(o));
  }
}

function operation({ path, method, op }) {
  const box = element('details', 'operation');
  box.id = op.operationId ?? `${method}-${path}`;
  const head = element('summary');
  head.append(element('span', `method ${method}`, method.toUpperCase()), element('span', 'path', path), element('span', 'summary', op.summary ?? ''));
  box.append(head);
  const content = element('div', 'content');
  box.append(content);

  const params = (op.parameters ?? []).filter(p => p.in === 'path').map(p => {
    const row = element('label', 'param', p.name);
    const input = element('input');
    input.name = p.name;
    input.value = p.example ?? '';
    row.append(input);
    content.append(row);
    return input;
  });

  let body = null;
  const json = op.requestBody?.content?.['application/json'];
  if (json) {
    body = element('textarea');
    body.rows = 8;
    body.setAttribute('aria-label', `${method.toUpperCase()} ${path} body`);
    body.value = JSON.stringify(json.example ?? {}, null, 2);
    content.append(body);
  }
  const codes = Object.entries(op.responses ?? {}).map(([code, r]) => `${code} ${r.description}`).join(' · ');
  content.append(element('div', 'responses', 'Responses: ' + codes));

  const row = element('div', 'try-row');
  const tryIt = element('button', 'try', 'Try it');
  tryIt.type = 'button';
  const status = element('span', 'result-status');
  row.append(tryIt, status);
  content.append(row);
  const result = element('pre', 'result');
  result.hidden = true;
  content.append(result);

  tryIt.addEventListener('click', async () => {
    let url = path;
    for (const p of params) url = url.replace(`{${p.name}}`, encodeURIComponent(p.value));
    const headers = {};
    const key = $('api-key').value.trim();
    if (key) headers.Authorization = 'Bearer ' + key;
    const init = { method: method.toUpperCase(), headers };
    if (body) {
      try {
        JSON.parse(body.value);
      } catch (e) {
        status.textContent = 'The body is not valid JSON: ' + e.message;
        status.className = 'result-status bad';
        return;
      }
      headers['Content-Type'] = 'application/json';
      init.body = body.value;
    }
    tryIt.disabled = true;
    result.hidden = false;
    result.textContent = '';
    status.textContent = 'sending…';
    status.className = 'result-status';
    try {
      const response = await fetch(url, init);
      status.textContent = `${response.status} ${response.statusText} · ${response.headers.get('content-type') ?? ''}`;
      status.className = 'result-status' + (response.ok ? ' ok' : ' bad');
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        result.textContent = text;
      }
      if ((response.headers.get('content-type') ?? '').includes('json')) {
        try { result.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as it came */ }
      }
      result.dataset.status = String(response.status);
    } catch (e) {
      status.textContent = 'Request failed: ' + e.message;
      status.className = 'result-status bad';
    } finally {
      tryIt.disabled = false;
    }
  });
  return box;
}

load();
