// @ts-check
// Minimal clients for the two doors the suite and the demo use: wapi's public API (gateway,
// `/api/v1`) and the sandbox's control API (`/_sandbox`, standing in for the customer and for
// Meta's side of the world). Plain fetch: what a developer's curl would do.

/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {any} body  the parsed JSON (or the text, when not JSON)
 * @property {Headers} headers
 */

/**
 * Calls `method url` with a JSON body and a bearer token; never throws on an HTTP status.
 * @param {string} method
 * @param {string} url
 * @param {{ token?: string | undefined, body?: unknown, headers?: Record<string, string> }} [init]
 * @returns {Promise<Answer>}
 */
export async function call(method, url, init = {}) {
  /** @type {Record<string, string>} */
  const headers = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let body = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (a CSV export, a plain-text error): keep the text
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * @typedef {object} Api
 * @property {string} baseUrl
 * @property {(method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>} request  any status
 * @property {(path: string) => Promise<any>} get  2xx or throws with the answer
 * @property {(path: string, body?: unknown, headers?: Record<string, string>) => Promise<any>} post  2xx or throws with the answer
 * @property {(token: string) => Api} as  the same API with another credential
 */

/**
 * The public API of a gateway, acting with `token` (an access token or an API key).
 * @param {string} baseUrl
 * @param {string} [token]
 * @returns {Api}
 */
export function publicApi(baseUrl, token) {
  /** @type {Api['request']} */
  const request = (method, path, body, headers) =>
    call(method, `${baseUrl}${path}`, { token, body, ...(headers ? { headers } : {}) });
  /** @param {string} method @param {string} path @param {unknown} [body] @param {Record<string, string>} [headers] */
  const ok = async (method, path, body, headers) => {
    const answer = await request(method, path, body, headers);
    if (answer.status >= 300)
      throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  return {
    baseUrl,
    request,
    get: (path) => ok('GET', path),
    post: (path, body, headers) => ok('POST', path, body, headers),
    as: (other) => publicApi(baseUrl, other),
  };
}

/**
 * @typedef {object} LiveEvents
 * @property {{ type: string, messageId: string, contactId: string, wamid: string | null, status: string }[]} received  every event so far, in order
 * @property {() => void} close
 */

/**
 * Follows `GET /api/v1/events` (Server-Sent Events) as a client would, collecting every event.
 * Resolves once the stream is open, so that nothing applied after the call is missed.
 * @param {string} baseUrl
 * @param {string} token
 * @returns {Promise<LiveEvents>}
 */
export async function followEvents(baseUrl, token) {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/api/v1/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body)
    throw new Error(`GET /api/v1/events answered ${res.status}: ${await res.text()}`);
  /** @type {LiveEvents['received']} */
  const received = [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  /** @type {(value?: unknown) => void} */
  let opened = () => undefined;
  const open = new Promise((resolve) => {
    opened = resolve;
  });
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        // The server's first comment line means it has pinned the stream's end: from here on
        // every applied change reaches us.
        if (buffer.includes(': connected')) opened();
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((line) => line.startsWith('data: '))
            .map((line) => line.slice(6))
            .join('\n');
          if (data) received.push(JSON.parse(data));
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  await open;
  return { received, close: () => abort.abort() };
}

/**
 * @typedef {object} SandboxControl
 * @property {string} baseUrl
 * @property {(method: string, path: string, body?: unknown) => Promise<any>} request  a call below /_sandbox; throws on non-2xx
 * @property {(seed: object) => Promise<any>} applyWorld  POST /_sandbox/world
 * @property {(input: { phoneNumberId: string, from: string, name?: string, messages: object[] }) => Promise<string[]>} inbound  customers write; the wamids
 * @property {(phoneNumberId: string, from: string, text: string) => Promise<string>} inboundText
 * @property {(filter?: { phoneNumberId?: string, to?: string }) => Promise<any[]>} sentMessages  what the platform sent, with its statuses
 * @property {(faults: object) => Promise<any>} setFaults
 */

/**
 * The sandbox's control API (docs/meta-sandbox.md), with its admin token.
 * @param {string} baseUrl
 * @param {string} adminToken
 * @returns {SandboxControl}
 */
export function sandboxControl(baseUrl, adminToken) {
  /** @type {SandboxControl['request']} */
  const request = async (method, path, body) => {
    const answer = await call(method, `${baseUrl}/_sandbox${path}`, { token: adminToken, body });
    if (answer.status >= 300)
      throw new Error(
        `sandbox ${method} /_sandbox${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    return answer.body;
  };
  /** @param {Record<string, string | undefined>} params */
  const query = (params) => {
    const q = new URLSearchParams(
      /** @type {[string, string][]} */ (Object.entries(params).filter(([, v]) => v !== undefined)),
    ).toString();
    return q ? `?${q}` : '';
  };
  return {
    baseUrl,
    request,
    applyWorld: (seed) => request('POST', '/world', seed),
    inbound: async (input) => (await request('POST', '/inbound', input)).ids,
    inboundText: async (phoneNumberId, from, text) =>
      (await request('POST', '/inbound', { phoneNumberId, from, messages: [{ kind: 'text', text }] })).ids[0],
    sentMessages: async (filter = {}) => (await request('GET', `/messages${query(filter)}`)).messages,
    setFaults: (faults) => request('PUT', '/faults', faults),
  };
}
