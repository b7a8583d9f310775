const NON_ASCII = /[\u0080-\uffff]/;
const NON_ASCII_ALL = /[\u0080-\uffff]/g;

/**
 * JSON as Meta writes webhook bodies (docs/meta-platform.md §3.2): every non-ASCII character
 * as a lowercase `\uXXXX` escape (characters outside the BMP as their UTF-16 surrogate pair)
 * and `/` as `\/`. A receiver must verify `X-Hub-Signature-256` over these exact bytes, never
 * over a re-encoding of the parsed body. Pure: meta-sandbox emits it, testkit builds with it.
 */
export function metaJsonEncode(value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined)
    throw new Error('metaJsonEncode: the value has no JSON form (undefined or a function)');
  // `/` and non-ASCII characters only occur inside JSON strings, so the text can be rewritten
  // as a whole; a JS string is UTF-16, so astral characters are already surrogate pairs. The
  // slash pass is a plain replace (wamids are base64 and carry `/`); the per-character callback
  // runs only when there is non-ASCII text, which keeps the sandbox's webhook path cheap.
  const slashes = json.replaceAll('/', '\\/');
  return NON_ASCII.test(slashes)
    ? slashes.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : slashes;
}
