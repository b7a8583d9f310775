import { useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, CUSTOMER, type Harness, NUMBER_ID, startSandbox, TOKEN } from './harness';

const ctx = useTestContext('sbxui');
let sbx: Harness;

beforeAll(async () => {
  sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl });
});
afterAll(async () => {
  await sbx?.close();
});

interface StateBody {
  numbers: Array<{
    id: string;
    display: string;
    conversations: Array<{
      waId: string;
      bubbles: Array<{ direction: string; text: string; status?: string }>;
    }>;
  }>;
}

describe('the /_sandbox page (issue: "a small page showing phone numbers and conversations")', () => {
  it('serves a page without data, with a policy that forbids inline and foreign scripts', async () => {
    const res = await fetch(`${sbx.url}/_sandbox`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('<script src="/_sandbox/ui.js"></script>');
    expect(html).not.toContain(NUMBER_ID);
    const js = await fetch(`${sbx.url}/_sandbox/ui.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain("fetch('/_sandbox/ui/state'");
  });

  it('answers the state route 401 without the admin token or with a Graph token', async () => {
    const none = await sbx.control('GET', '/ui/state', undefined, null);
    expect(none.status).toBe(401);
    expect((none.json.error as { code: string }).code).toBe('INTERNAL_AUTH_REQUIRED');
    const graphToken = await sbx.control('GET', '/ui/state', undefined, TOKEN);
    expect(graphToken.status).toBe(401);
    expect((graphToken.json.error as { code: string }).code).toBe('INTERNAL_AUTH_INVALID');
  });

  it('shows each number with its conversation: inbound and outbound bubbles in order, with ticks', async () => {
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [{ kind: 'text', text: 'Is my order shipped?' }],
    });
    const sent = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      text: { body: 'Yes, it arrives tomorrow.' },
    });
    expect(sent.status).toBe(200);

    const state = await waitFor(
      async () => {
        const res = await sbx.control('GET', '/ui/state', undefined, ADMIN);
        const body = res.json as unknown as StateBody;
        const chat = body.numbers
          .find((n) => n.id === NUMBER_ID)
          ?.conversations.find((c) => c.waId === CUSTOMER);
        return chat?.bubbles.at(-1)?.status === 'read' ? body : false;
      },
      { what: 'the reply to reach read' },
    );
    const chat = state.numbers
      .find((n) => n.id === NUMBER_ID)
      ?.conversations.find((c) => c.waId === CUSTOMER);
    expect(chat?.bubbles).toEqual([
      expect.objectContaining({ direction: 'in', text: 'Is my order shipped?' }),
      expect.objectContaining({ direction: 'out', text: 'Yes, it arrives tomorrow.', status: 'read' }),
    ]);
  });
});
