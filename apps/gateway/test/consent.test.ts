import { type StartedService, startCompliance, useTestContext } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayEnv, type Harness, insertPhoneNumber, startGateway, storeTemplate } from './harness';

const ctx = useTestContext('gwconsent');
let compliance: StartedService;
let gw: Harness;

beforeAll(async () => {
  // The real compliance service, built (turbo builds it before this package's tests).
  compliance = await startCompliance(ctx);
  gw = await startGateway(ctx, gatewayEnv(ctx, { COMPLIANCE_URL: compliance.url }));
}, 30_000);

afterAll(async () => {
  await gw?.close();
  await compliance?.stop();
});

describe('consent per contact (through compliance)', () => {
  it('records a manual opt-out, shows it, refuses sends with 403 until the opt-in', async () => {
    const owner = await gw.signup('consent');
    const auth = owner.tokens.accessToken;
    // A connected number, stored as the connect route stores it (connecting needs vault: messaging.test.ts).
    await insertPhoneNumber(ctx, owner.workspace.id, `8${Date.now()}`, '1');
    const contact = (
      await gw.call('POST', '/api/v1/contacts', { token: auth, body: { phone: '+14155550140' } })
    ).json();
    await storeTemplate(ctx, owner.workspace.id, { name: 'promo', category: 'MARKETING' });
    const template = { type: 'template', template: { name: 'promo', language: 'en' } };
    const send = () =>
      gw.call('POST', '/api/v1/messages', {
        token: auth,
        body: { contactId: contact.id, content: template },
      });
    expect((await send()).statusCode).toBe(202);

    const out = await gw.call('POST', `/api/v1/contacts/${contact.id}/consent`, {
      token: auth,
      body: { signal: 'opt_out', scope: 'all', note: 'asked by phone' },
    });
    expect(out.statusCode, out.body).toBe(200);
    expect(out.json()).toMatchObject({ changed: true });
    const shown = await gw.call('GET', `/api/v1/contacts/${contact.id}/consent`, { token: auth });
    expect(shown.statusCode, shown.body).toBe(200);
    expect(shown.json().states).toEqual(
      expect.arrayContaining([expect.objectContaining({ scope: 'all', state: 'opted_out' })]),
    );
    const refused = await send();
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('CONTACT_OPTED_OUT');

    const back = await gw.call('POST', `/api/v1/contacts/${contact.id}/consent`, {
      token: auth,
      body: { signal: 'opt_in', scope: 'all' },
    });
    expect(back.statusCode, back.body).toBe(200);
    expect((await send()).statusCode).toBe(202);
  });
});
