import { Value } from '@sinclair/typebox/value';
import { TemplateStatusUpdateValue } from '@wapi/contracts';
import { useTestContext, waitFor } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  APP_ID,
  baseSeed,
  CUSTOMER,
  closeAfterEachTest,
  graphError,
  type Harness,
  manualClock,
  NARROW_TOKEN,
  NUMBER_ID,
  startReceiver,
  startSandbox,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxtpl');
const HOUR = 3_600_000;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
closeAfterEachTest();

async function setUp(env: Record<string, string> = {}) {
  const clock = manualClock();
  const r = await startReceiver();
  receiver = r;
  const h = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: baseSeed(r.url), now: clock.now, env });
  return { sbx: h, receiver: r, clock };
}

async function templateId(h: Harness, name: string): Promise<string> {
  const listed = await h.graph('GET', `/${WABA_ID}/message_templates?name=${name}`);
  return (listed.json.data as Array<{ id: string }>)[0]?.id ?? '';
}
const statusUpdates = (r: NonNullable<typeof receiver>, name: string) =>
  r.values('message_template_status_update').filter((v) => v.message_template_name === name);

const newBody = [{ type: 'BODY', text: 'Hi {{1}}, order {{2}} is on its way.' }];

describe('template edit and unpause (ref §7)', () => {
  it('edits an approved template: components replaced, back to PENDING (not sendable), then approved with a webhook (ref §7.1, §7.4, §3.7)', async () => {
    const { sbx: slow } = await setUp({ SANDBOX_TEMPLATE_REVIEW_MS: '600000' });
    const id = await templateId(slow, 'order_update');
    const edited = await slow.graph('POST', `/${id}`, { components: newBody });
    expect(edited).toEqual({ status: 200, json: { success: true } });
    const view = await slow.graph('GET', `/${id}`);
    expect(view.json).toMatchObject({ status: 'PENDING', components: newBody });
    const send = await slow.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type: 'template',
      template: { name: 'order_update', language: { code: 'en_US' } },
    });
    expect(graphError(send.json).code).toBe(132001);
    await slow.close();
    await receiver?.close();

    const { sbx: fast, receiver: r } = await setUp();
    const fastId = await templateId(fast, 'order_update');
    expect((await fast.graph('POST', `/${fastId}`, { components: newBody })).status).toBe(200);
    await waitFor(() => statusUpdates(r, 'order_update').length === 1, { what: 'review webhook' });
    const update = statusUpdates(r, 'order_update')[0];
    expect(Value.Check(TemplateStatusUpdateValue, update)).toBe(true);
    expect(update).toMatchObject({ event: 'APPROVED', message_template_id: Number(fastId) });
    expect((await fast.graph('GET', `/${fastId}`)).json.status).toBe('APPROVED');
  });

  it('limits edits of an approved template to one per 24 h and refuses category changes, other fields and disabled templates (ref §7.4)', async () => {
    const { sbx, receiver: r, clock } = await setUp();
    const id = await templateId(sbx, 'order_update');
    expect((await sbx.graph('POST', `/${id}`, { components: newBody })).status).toBe(200);
    await waitFor(() => statusUpdates(r, 'order_update').length === 1, { what: 'approved again' });
    const again = await sbx.graph('POST', `/${id}`, { components: newBody });
    expect(again.status).toBe(400);
    expect(graphError(again.json).code).toBe(100);
    clock.advance(24 * HOUR);
    expect((await sbx.graph('POST', `/${id}`, { components: newBody })).status).toBe(200);
    await waitFor(() => statusUpdates(r, 'order_update').length === 2, { what: 'approved a third time' });

    const category = await sbx.graph('POST', `/${id}`, { category: 'MARKETING' });
    expect(graphError(category.json).code).toBe(100);
    const name = await sbx.graph('POST', `/${id}`, { name: 'renamed' });
    expect(graphError(name.json).code).toBe(100);
    const empty = await sbx.graph('POST', `/${id}`, {});
    expect(graphError(empty.json).code).toBe(100);
    const badComponents = await sbx.graph('POST', `/${id}`, { components: [{ type: 'FOOTER', text: 'x' }] });
    expect(graphError(badComponents.json).code).toBe(100);

    const sale = await templateId(sbx, 'spring_sale');
    await sbx.control('POST', `/templates/${sale}/status`, { status: 'DISABLED' });
    const disabled = await sbx.graph('POST', `/${sale}`, { components: newBody });
    expect(graphError(disabled.json).code).toBe(100);
    // A rejected template may change category and is not rate limited (§7.4).
    await sbx.control('POST', `/templates/${sale}/status`, { status: 'REJECTED' });
    expect((await sbx.graph('POST', `/${sale}`, { category: 'UTILITY' })).status).toBe(200);
  });

  it('answers edit and unpause without a token with 190 and for an invisible template like an unknown object (ref §1.2, §1.3, §12)', async () => {
    const { sbx } = await setUp();
    const id = await templateId(sbx, 'order_update');
    for (const path of [`/${id}`, `/${id}/unpause`]) {
      const anonymous = await sbx.graph('POST', path, { components: newBody }, null);
      expect(anonymous.status).toBe(401);
      expect(graphError(anonymous.json).code).toBe(190);
      const narrow = await sbx.graph('POST', path, { components: newBody }, NARROW_TOKEN);
      expect(graphError(narrow.json)).toMatchObject({ code: 100, error_subcode: 33 });
    }
    const unknown = await sbx.graph('POST', '/999999999999/unpause');
    expect(graphError(unknown.json)).toMatchObject({ code: 100, error_subcode: 33 });
  });

  it('unpauses a paused template to APPROVED with an UNPAUSE status webhook; refuses one that is not paused (ref §7.1, §7.4, §3.7)', async () => {
    const { sbx, receiver: r } = await setUp();
    const id = await templateId(sbx, 'spring_sale');
    const notPaused = await sbx.graph('POST', `/${id}/unpause`);
    expect(notPaused.status).toBe(400);
    expect(graphError(notPaused.json).code).toBe(100);
    await sbx.control('POST', `/templates/${id}/status`, { status: 'PAUSED' });
    expect((await sbx.graph('POST', `/${id}/unpause`)).json).toEqual({ success: true });
    await waitFor(() => statusUpdates(r, 'spring_sale').length === 2, { what: 'pause and unpause webhooks' });
    const unpause = statusUpdates(r, 'spring_sale')[1];
    expect(Value.Check(TemplateStatusUpdateValue, unpause)).toBe(true);
    expect(unpause).toMatchObject({ event: 'APPROVED', other_info: { title: 'UNPAUSE' } });
    const send = await sbx.graph('POST', `/${NUMBER_ID}/messages`, {
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      type: 'template',
      template: { name: 'spring_sale', language: { code: 'en_US' } },
    });
    expect(send.status).toBe(200);
  });

  it('allows 100 template creations per WABA per hour, then 80008 until the hour has passed (ref §5.4, §4)', async () => {
    const { sbx, clock } = await setUp();
    const create = (name: string) =>
      sbx.graph('POST', `/${WABA_ID}/message_templates`, {
        name,
        language: 'en_US',
        category: 'UTILITY',
        components: [{ type: 'BODY', text: 'Hello there.' }],
      });
    for (let i = 0; i < 100; i++) expect((await create(`bulk_${i}`)).status).toBe(200);
    const over = await create('bulk_100');
    expect(over.status).toBe(400);
    expect(graphError(over.json).code).toBe(80008);
    // Invalid creations are refused before the count and do not consume it.
    expect(graphError((await create('Bad Name')).json).code).toBe(100);
    clock.advance(HOUR);
    expect((await create('bulk_100')).status).toBe(200);
  });
});

describe('per-field webhook subscriptions (ref §3.7)', () => {
  it('subscribes apps to every field by default and delivers only the fields an app subscribed to (ref §3.7, §8.2)', async () => {
    const { sbx, receiver: r } = await setUp();
    const created = await sbx.control('POST', '/apps', { name: 'Other' });
    expect((created.json.fields as string[]).length).toBe(19);
    expect(created.json.fields).toContain('messages');

    const onlyMessages = await sbx.control('PUT', `/apps/${APP_ID}/fields`, { fields: ['messages'] });
    expect(onlyMessages.json.fields).toEqual(['messages']);
    const sale = await templateId(sbx, 'spring_sale');
    await sbx.control('POST', `/templates/${sale}/status`, { status: 'PAUSED' });
    await sbx.control('POST', '/user-preferences', {
      phoneNumberId: NUMBER_ID,
      waId: CUSTOMER,
      value: 'stop',
    });
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [{ kind: 'text' }],
    });
    await waitFor(() => r.values('messages').length === 1, { what: 'messages webhook' });
    await waitFor(async () => (await sbx.control('GET', '/webhooks')).json.idle === true, { what: 'idle' });
    expect(r.values('message_template_status_update')).toEqual([]);
    expect(r.values('user_preferences')).toEqual([]);

    await sbx.control('PUT', `/apps/${APP_ID}/fields`, { fields: ['message_template_status_update'] });
    await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [{ kind: 'text' }],
    });
    await sbx.control('POST', `/templates/${sale}/status`, { status: 'APPROVED' });
    await waitFor(() => r.values('message_template_status_update').length === 1, {
      what: 'template webhook',
    });
    await waitFor(async () => (await sbx.control('GET', '/webhooks')).json.idle === true, { what: 'idle' });
    expect(r.values('messages').length).toBe(1);
  });

  it('rejects unknown fields, unknown apps and calls without the admin token (ref §3.7)', async () => {
    const { sbx } = await setUp();
    expect((await sbx.control('PUT', `/apps/${APP_ID}/fields`, { fields: ['mesages'] })).status).toBe(400);
    expect((await sbx.control('PUT', `/apps/${APP_ID}/fields`, {})).status).toBe(400);
    expect((await sbx.control('PUT', '/apps/123456/fields', { fields: ['messages'] })).status).toBe(404);
    expect((await sbx.control('PUT', `/apps/${APP_ID}/fields`, { fields: ['messages'] }, null)).status).toBe(
      401,
    );
    expect((await sbx.control('POST', '/apps', { fields: ['nope'] })).status).toBe(400);
  });
});

describe('inbound media over the size limit (ref §10)', () => {
  it('turns user media over 100 MB into an unsupported message with error 131052; 100 MB exactly is fine (ref §3.4, §4, §10, §12)', async () => {
    const { sbx, receiver: r } = await setUp();
    const limit = 100 * 1024 * 1024;
    const res = await sbx.control('POST', '/inbound', {
      phoneNumberId: NUMBER_ID,
      from: CUSTOMER,
      messages: [
        { kind: 'video', fileSize: limit + 1 },
        { kind: 'document', fileSize: limit },
      ],
    });
    expect(res.status).toBe(200);
    await waitFor(() => r.messages().length === 2, { what: 'two inbound messages' });
    const messages = r.messages();
    const big = messages.find((m) => m.type === 'unsupported');
    expect(big).toMatchObject({
      from: CUSTOMER,
      unsupported: { type: 'video' },
      errors: [{ code: 131052, title: 'Media download error', message: 'Media download error' }],
    });
    expect(big?.video).toBeUndefined();
    expect(messages.find((m) => m.type === 'document')?.document).toMatchObject({ id: expect.any(String) });
  });

  it('rejects a negative or non-integer fileSize (ref §10)', async () => {
    const { sbx } = await setUp();
    for (const fileSize of [-1, 1.5, 'big'])
      expect(
        (
          await sbx.control('POST', '/inbound', {
            phoneNumberId: NUMBER_ID,
            from: CUSTOMER,
            messages: [{ kind: 'image', fileSize }],
          })
        ).status,
      ).toBe(400);
  });
});
