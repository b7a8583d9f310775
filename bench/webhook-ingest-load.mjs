// A closed-loop POST load generator for webhook-ingest (or the bare baseline), run as its own
// process so it does not share an event loop with the server it measures. Each request is a
// ~1.5 KB Meta-encoded, signed webhook with its own wamid: `pool` bodies are built once, and
// each request takes the next one with a wamid never sent before written into it, then signs
// it (a cycled pool of ready bodies repeated wamids once the rate outran it, and the server
// dropped the repeats as duplicates: cheaper than real traffic).
// Usage: node bench/webhook-ingest-load.mjs '<json: { url, secret, concurrency, durationMs, warmupMs, pool, phoneNumberId }>'
// Prints `measuring` and `stopped` around the measured window, then one JSON line:
// { requests, errors, rps, p50Ms, p99Ms, statuses, cpuMs } (cpuMs: its own CPU in the window).
import { createHmac, randomBytes } from 'node:crypto';
import { runLoad } from './lib/load-loop.mjs';

const {
  url,
  secret,
  concurrency = 50,
  durationMs = 10_000,
  warmupMs = 2_000,
  pool = 2_000,
  phoneNumberId = '106540352242922',
  // `long`: a ~950-character text (never a consent keyword: one job downstream); `short`: a
  // short text, the body made up to ~1.5 KB by a click-to-WhatsApp ad's `referral` block, as
  // such messages carry (a text that can be a keyword: a consent signal too, two jobs).
  text = 'long',
} = JSON.parse(process.argv[2]);

// Meta's encoding: non-ASCII as \uXXXX, '/' as '\/'.
const metaEncode = (value) =>
  JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

// Meta's wamids are `wamid.` + 40 base64 characters. Each body is built with this slot, and a
// request writes its own id over it: 12 characters of a counter, 28 drawn once per process.
const WAMID_SLOT = `wamid.${'#'.repeat(40)}`;
const wamidTail = randomBytes(21).toString('base64');
let sent = 0;

function body(i) {
  const short = text === 'short';
  const words = short
    ? `Olá! pedido nº ${i} — obrigado 😀`
    : `Olá! pedido nº ${i} — obrigado 😀 ${'x'.repeat(900)}`;
  const referral = short
    ? {
        referral: {
          source_url: `https://fb.me/${'a'.repeat(12)}`,
          source_id: '120208000000000001',
          source_type: 'ad',
          headline: `Frete grátis — pedido nº ${i}`,
          body: `Aproveite a promoção de inverno: ${'entrega rápida, '.repeat(22)}`,
          media_type: 'image',
          image_url: `https://scontent.xx.fbcdn.net/v/t45.1600-4/${'b'.repeat(120)}.jpg`,
          ctwa_clid: 'c'.repeat(64),
        },
      }
    : {};
  return Buffer.from(
    metaEncode({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '100000000000001',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
                contacts: [
                  {
                    profile: { name: 'Bench Customer' },
                    wa_id: `1555${String(i % 1_000_000).padStart(7, '0')}`,
                  },
                ],
                messages: [
                  {
                    from: `1555${String(i % 1_000_000).padStart(7, '0')}`,
                    id: WAMID_SLOT,
                    timestamp: String(Math.floor(Date.now() / 1000)),
                    type: 'text',
                    text: { body: words },
                    ...referral,
                  },
                ],
              },
            },
          ],
        },
      ],
    }),
  );
}
const bodies = Array.from({ length: pool }, (_, i) => {
  const b = body(i);
  return { b, at: b.indexOf(WAMID_SLOT) + 'wamid.'.length };
});

/** The next body with a fresh wamid, and its signature. */
function nextSigned() {
  const { b, at } = bodies[sent % bodies.length];
  sent += 1;
  const copy = Buffer.from(b);
  copy.write(`${sent.toString(36).padStart(12, '0')}${wamidTail}`, at, 'latin1');
  return { b: copy, sig: `sha256=${createHmac('sha256', secret).update(copy).digest('hex')}` };
}
const result = await runLoad({
  url,
  method: 'POST',
  concurrency,
  durationMs,
  warmupMs,
  next: () => {
    const { b, sig } = nextSigned();
    return { headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig }, body: b };
  },
});
const { ok, elapsedMs, ...figures } = result;
process.stdout.write(`${JSON.stringify({ ...figures, ok, rps: Math.round((ok * 1000) / elapsedMs) })}\n`);
