import { Value } from '@sinclair/typebox/value';
import {
  AccountUpdateValue,
  BusinessCapabilityUpdateValue,
  PhoneNumberQualityUpdateValue,
  TemplateQualityUpdateValue,
  TemplateStatusUpdateValue,
} from '@wapi/contracts';
import { useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUSINESS_DISPLAY,
  baseSeed,
  graphError,
  type Harness,
  manualClock,
  NUMBER_ID,
  OTHER_NUMBER_ID,
  OTHER_WABA_ID,
  startReceiver,
  startSandbox,
  TOKEN,
  UNREGISTERED_ID,
  WABA_ID,
} from './harness';

// The control surfaces for number health and accounts (docs/meta-platform.md §3.7, §5.1, §5.3,
// §8.5): each change shows in Graph reads and reaches the app's callback URL as the webhook Meta
// sends, signed over the received bytes.

const ctx = useTestContext('sbxhealth');
const clock = manualClock(Date.UTC(2026, 3, 17, 9, 30));
let sbx: Harness;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeAll(async () => {
  receiver = await startReceiver();
  sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, seed: baseSeed(receiver.url), now: clock.now });
});
afterAll(async () => {
  await sbx?.close();
  await receiver?.close();
});

/** Every change of `field` the receiver got so far, with its entry and signature check. */
function changes(field: string) {
  return receiver.received.flatMap((r) =>
    r.body.entry.flatMap((entry) =>
      entry.changes
        .filter((c) => c.field === field)
        .map((c) => ({ entry, value: c.value, signed: r.signatureOk })),
    ),
  );
}

/**
 * The first change of `field` that `match` accepts, once it arrived. POSTs may overtake each
 * other (§3.6), so changes are found by content, never by arrival order.
 */
async function changeWhere(field: string, match: (value: Record<string, unknown>) => boolean) {
  await waitFor(() => changes(field).some((c) => match(c.value)), { timeoutMs: 5_000, what: field });
  return changes(field).find((c) => match(c.value)) as ReturnType<typeof changes>[number];
}

async function templateId(name: string): Promise<string> {
  const list = await sbx.graph('GET', `/${WABA_ID}/message_templates?name=${name}`);
  return String((list.json.data as Array<{ id: string }>)[0]?.id);
}

describe('POST /_sandbox/phone-numbers/:id/quality (§3.7, §5.1, §5.3, §8.5)', () => {
  it('raises the messaging limit and flags quality: Graph shows both, an UPGRADE webhook names old and new limit', async () => {
    const r = await sbx.control('POST', `/phone-numbers/${NUMBER_ID}/quality`, {
      messagingLimit: 'TIER_10K',
      qualityRating: 'YELLOW',
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      id: NUMBER_ID,
      qualityRating: 'YELLOW',
      messagingLimit: 'TIER_10K',
      throughputLevel: 'STANDARD',
    });
    const { entry, value, signed } = await changeWhere(
      'phone_number_quality_update',
      (v) => v.event === 'UPGRADE',
    );
    expect(signed).toBe(true);
    expect(entry.id).toBe(WABA_ID);
    expect(entry.time).toBe(Math.floor(clock.now() / 1_000));
    expect(value).toEqual({
      display_phone_number: BUSINESS_DISPLAY,
      event: 'UPGRADE',
      current_limit: 'TIER_10K',
      old_limit: 'TIER_2K',
      max_daily_conversations_per_business: 'TIER_10K',
    });
    expect(Value.Check(PhoneNumberQualityUpdateValue, value)).toBe(true);

    const node = await sbx.graph(
      'GET',
      `/${NUMBER_ID}?fields=quality_rating,whatsapp_business_manager_messaging_limit,messaging_limit_tier`,
    );
    expect(node.json).toEqual({
      id: NUMBER_ID,
      quality_rating: 'YELLOW',
      whatsapp_business_manager_messaging_limit: 'TIER_10K',
      messaging_limit_tier: 'TIER_10K',
    });
    // §5.3: the limit is the portfolio's, so the WABA's other number has it too.
    const other = await sbx.graph(
      'GET',
      `/${UNREGISTERED_ID}?fields=whatsapp_business_manager_messaging_limit`,
    );
    expect(other.json.whatsapp_business_manager_messaging_limit).toBe('TIER_10K');
  });

  it('upgrades throughput to HIGH: the number then takes 90 sends in one second where 80 was the limit', async () => {
    // Free-form texts to users who never wrote: accepted (131047 follows as a status, §4),
    // each to its own user so the pair rate (§5.2) stays out of the way.
    const send = (i: number) =>
      sbx.graph('POST', `/${OTHER_NUMBER_ID}/messages`, {
        messaging_product: 'whatsapp',
        to: `1650555${String(1000 + i)}`,
        type: 'text',
        text: { body: 'hello' },
      });
    // The clock stands still, so the 80/s bucket never refills: a burst of 90 meets 130429.
    const before = await Promise.all(Array.from({ length: 90 }, (_, i) => send(i)));
    expect(before.some((r) => r.status === 400 && graphError(r.json).code === 130429)).toBe(true);

    const r = await sbx.control('POST', `/phone-numbers/${OTHER_NUMBER_ID}/quality`, {
      throughputLevel: 'HIGH',
    });
    expect(r.json).toMatchObject({ throughputLevel: 'HIGH', throughputMps: 1_000 });
    expect(r.json.webhook).toEqual({
      display_phone_number: '447700900123',
      event: 'THROUGHPUT_UPGRADE',
      current_limit: 'TIER_2K',
      max_daily_conversations_per_business: 'TIER_2K',
    });
    const node = await sbx.graph('GET', `/${OTHER_NUMBER_ID}?fields=throughput`);
    expect(node.json.throughput).toEqual({ level: 'HIGH' });
    const after = await Promise.all(Array.from({ length: 90 }, (_, i) => send(100 + i)));
    expect(after.map((a) => a.status)).toEqual(Array(90).fill(200));
  });

  it('sends no webhook when nothing changed, and the event given when one is named', async () => {
    const same = await sbx.control('POST', `/phone-numbers/${NUMBER_ID}/quality`, {
      qualityRating: 'YELLOW',
    });
    expect(same.status).toBe(200);
    expect(same.json.webhook).toBeUndefined();
    const named = await sbx.control('POST', `/phone-numbers/${NUMBER_ID}/quality`, {
      qualityRating: 'GREEN',
      event: 'ONBOARDING',
    });
    expect(named.status).toBe(200);
    const { value } = await changeWhere('phone_number_quality_update', (v) => v.event === 'ONBOARDING');
    expect(value).toMatchObject({ current_limit: 'TIER_10K' });
    expect(value).not.toHaveProperty('old_limit');
    // This number's changes so far: the UPGRADE and the ONBOARDING; the no-op sent nothing.
    const mine = changes('phone_number_quality_update').filter(
      (c) => c.value.display_phone_number === BUSINESS_DISPLAY,
    );
    expect(mine.map((c) => c.value.event)).toEqual(['UPGRADE', 'ONBOARDING']);
  });

  it('flags and unflags on quality moves, downgrades on a lower limit', async () => {
    const flag = await sbx.control('POST', `/phone-numbers/${NUMBER_ID}/quality`, { qualityRating: 'RED' });
    expect((flag.json.webhook as { event: string }).event).toBe('FLAGGED');
    const unflag = await sbx.control('POST', `/phone-numbers/${NUMBER_ID}/quality`, {
      qualityRating: 'GREEN',
    });
    expect((unflag.json.webhook as { event: string }).event).toBe('UNFLAGGED');
    const down = await sbx.control('POST', `/phone-numbers/${NUMBER_ID}/quality`, {
      messagingLimit: 'TIER_250',
    });
    expect(down.json.webhook).toMatchObject({
      event: 'DOWNGRADE',
      old_limit: 'TIER_10K',
      current_limit: 'TIER_250',
    });
  });

  it.each([
    ['an empty body', NUMBER_ID, {}, 400, 'VALIDATION_FAILED'],
    ['an unknown tier', NUMBER_ID, { messagingLimit: 'TIER_5' }, 400, 'VALIDATION_FAILED'],
    ['an unknown number', '399999999999999', { qualityRating: 'RED' }, 404, 'ROUTE_NOT_FOUND'],
  ])('refuses %s', async (_label, id, body, status, code) => {
    const r = await sbx.control('POST', `/phone-numbers/${id}/quality`, body);
    expect(r.status).toBe(status);
    expect((r.json.error as { code: string }).code).toBe(code);
  });

  it('refuses callers without the admin token', async () => {
    const r = await sbx.control(
      'POST',
      `/phone-numbers/${NUMBER_ID}/quality`,
      { qualityRating: 'RED' },
      TOKEN,
    );
    expect(r.status).toBe(401);
  });
});

describe('POST /_sandbox/wabas/:id/account-update and /capability (§3.7)', () => {
  it('sends DISABLED_UPDATE with ban_info, dated the way Meta writes it', async () => {
    const r = await sbx.control('POST', `/wabas/${WABA_ID}/account-update`, {
      event: 'DISABLED_UPDATE',
      banInfo: { wabaBanState: 'DISABLE' },
    });
    expect(r.status).toBe(200);
    const { entry, value, signed } = await changeWhere(
      'account_update',
      (v) => v.event === 'DISABLED_UPDATE',
    );
    expect(signed).toBe(true);
    expect(entry.id).toBe(WABA_ID);
    expect(value).toEqual({
      event: 'DISABLED_UPDATE',
      ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: 'April 17, 2026' },
    });
    expect(Value.Check(AccountUpdateValue, value)).toBe(true);
    expect(r.json).toEqual({ wabaId: WABA_ID, field: 'account_update', webhook: value });
  });

  it('attaches violation_info to ACCOUNT_VIOLATION and waba_info to PARTNER_ADDED', async () => {
    const violation = await sbx.control('POST', `/wabas/${OTHER_WABA_ID}/account-update`, {
      event: 'ACCOUNT_VIOLATION',
      violationType: 'ADULT',
    });
    expect(violation.json.webhook).toEqual({
      event: 'ACCOUNT_VIOLATION',
      violation_info: { violation_type: 'ADULT' },
    });
    const partner = await sbx.control('POST', `/wabas/${WABA_ID}/account-update`, { event: 'PARTNER_ADDED' });
    const info = (partner.json.webhook as { waba_info: { waba_id: string; owner_business_id: string } })
      .waba_info;
    expect(info.waba_id).toBe(WABA_ID);
    expect(info.owner_business_id).toMatch(/^\d+$/);
    const { value } = await changeWhere('account_update', (v) => v.event === 'PARTNER_ADDED');
    expect(value).toEqual(partner.json.webhook);
  });

  it.each([
    [
      'ban_info on another event',
      { event: 'PARTNER_ADDED', banInfo: { wabaBanState: 'DISABLE' } },
      /DISABLED_UPDATE/,
    ],
    ['ACCOUNT_VIOLATION without its type', { event: 'ACCOUNT_VIOLATION' }, /violationType/],
    ['an event that is not Meta-shaped', { event: 'disabled update' }, /event/],
  ])('refuses %s with a message saying what to send', async (_label, body, message) => {
    const r = await sbx.control('POST', `/wabas/${WABA_ID}/account-update`, body);
    expect(r.status).toBe(400);
    const error = r.json.error as { code: string; message: string };
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toMatch(message);
  });

  it('answers 404 for an unknown WABA', async () => {
    const r = await sbx.control('POST', '/wabas/299999999999999/account-update', {
      event: 'ACCOUNT_DELETED',
    });
    expect(r.status).toBe(404);
  });

  it('sends business_capability_update and makes its messaging limit the portfolio numbers’ limit', async () => {
    const r = await sbx.control('POST', `/wabas/${OTHER_WABA_ID}/capability`, {
      maxDailyConversationsPerBusiness: 'TIER_100K',
      maxPhoneNumbersPerWaba: 25,
    });
    expect(r.status).toBe(200);
    const { entry, value } = await changeWhere('business_capability_update', () => true);
    expect(entry.id).toBe(OTHER_WABA_ID);
    expect(value).toEqual({
      max_daily_conversations_per_business: 'TIER_100K',
      max_phone_numbers_per_waba: 25,
    });
    expect(Value.Check(BusinessCapabilityUpdateValue, value)).toBe(true);
    const node = await sbx.graph(
      'GET',
      `/${OTHER_NUMBER_ID}?fields=whatsapp_business_manager_messaging_limit`,
    );
    expect(node.json.whatsapp_business_manager_messaging_limit).toBe('TIER_100K');
    const empty = await sbx.control('POST', `/wabas/${OTHER_WABA_ID}/capability`, {});
    expect(empty.status).toBe(400);
  });
});

describe('template status and quality webhooks in Meta’s shape (§3.7, §7.4)', () => {
  it('writes reason NONE, FIRST_PAUSE then SECOND_PAUSE, and disable_info on DISABLED', async () => {
    const id = await templateId('spring_sale');
    for (const status of ['PAUSED', 'APPROVED', 'PAUSED', 'DISABLED'])
      expect((await sbx.control('POST', `/templates/${id}/status`, { status })).status).toBe(200);
    const ofIt = (event: string, title?: string) => (v: Record<string, unknown>) =>
      v.message_template_id === Number(id) &&
      v.event === event &&
      (v.other_info as { title?: string } | undefined)?.title === title;
    const first = (await changeWhere('message_template_status_update', ofIt('PAUSED', 'FIRST_PAUSE'))).value;
    const approved = (await changeWhere('message_template_status_update', ofIt('APPROVED'))).value;
    const second = (await changeWhere('message_template_status_update', ofIt('PAUSED', 'SECOND_PAUSE')))
      .value;
    const disabled = (await changeWhere('message_template_status_update', ofIt('DISABLED'))).value;
    for (const v of [first, approved, second, disabled])
      expect(Value.Check(TemplateStatusUpdateValue, v)).toBe(true);
    expect(first).toMatchObject({
      event: 'PAUSED',
      message_template_id: Number(id),
      message_template_name: 'spring_sale',
      reason: 'NONE',
      other_info: { title: 'FIRST_PAUSE' },
    });
    expect(approved).toMatchObject({ event: 'APPROVED', reason: 'NONE' });
    expect(approved).not.toHaveProperty('other_info');
    expect(second).toMatchObject({ event: 'PAUSED', other_info: { title: 'SECOND_PAUSE' } });
    expect(disabled).toMatchObject({
      event: 'DISABLED',
      disable_info: { disable_date: Math.floor(clock.now() / 1_000) },
    });
  });

  it('sends message_template_quality_update with the previous and the new score', async () => {
    const id = await templateId('order_update');
    const first = await sbx.control('POST', `/templates/${id}/quality`, { quality: 'YELLOW' });
    expect(first.json).toEqual({ id, previousQuality: 'UNKNOWN', quality: 'YELLOW' });
    await sbx.control('POST', `/templates/${id}/quality`, { quality: 'RED' });
    const { entry, value } = await changeWhere(
      'message_template_quality_update',
      (v) => v.new_quality_score === 'RED',
    );
    expect(entry.id).toBe(WABA_ID);
    expect(value).toEqual({
      previous_quality_score: 'YELLOW',
      new_quality_score: 'RED',
      message_template_id: Number(id),
      message_template_name: 'order_update',
      message_template_language: 'en_US',
    });
    expect(Value.Check(TemplateQualityUpdateValue, value)).toBe(true);
    expect((await sbx.control('POST', '/templates/1/quality', { quality: 'RED' })).status).toBe(404);
  });
});

describe('what the sandbox does not emulate', () => {
  it('answers the number’s settings edge as an unsupported operation (§8.6: not covered by the sources)', async () => {
    const r = await sbx.graph('GET', `/${NUMBER_ID}/settings`);
    expect(r.status).toBe(400);
    expect(graphError(r.json)).toMatchObject({ code: 100, error_subcode: 33 });
    expect(graphError(r.json).message).toMatch(/does not support this operation/);
  });
});
