import { useTestContext } from '@wapi/testkit';
import { describe, expect, it } from 'vitest';
import {
  CUSTOMER,
  closeAfterEachTest,
  graphError,
  type Harness,
  manualClock,
  NUMBER_ID,
  startSandbox,
  WABA_ID,
} from './harness';

const ctx = useTestContext('sbxrate');
let sbx: Harness | undefined;
closeAfterEachTest();

const template = (to: string) => ({
  messaging_product: 'whatsapp',
  to,
  type: 'template',
  template: { name: 'spring_sale', language: { code: 'en_US' } },
});

async function count(n: number, body: (i: number) => unknown) {
  const codes: Array<number | 'ok'> = [];
  for (let i = 0; i < n; i++) {
    const r = await sbx!.graph('POST', `/${NUMBER_ID}/messages`, body(i));
    codes.push(r.status === 200 ? 'ok' : graphError(r.json).code);
  }
  return codes;
}

describe('rate limiters with an injected clock', () => {
  it('throughput admits exactly 80 per second per number, then 130429 (ref §5.1)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    // Distinct recipients so the pair limit never interferes.
    const codes = await count(81, (i) => template(`+1650555${String(i).padStart(4, '0')}`));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(80);
    expect(codes[80]).toBe(130429);
    const error = graphError(
      (await sbx.graph('POST', `/${NUMBER_ID}/messages`, template('+16505559999'))).json,
    );
    expect(error.error_data?.details).toBe('Cloud API message throughput has been reached.');
    clock.advance(999);
    expect(await count(1, () => template('+16505558888'))).toEqual([130429]);
    clock.advance(1);
    expect(
      (await count(81, (i) => template(`+1650556${String(i).padStart(4, '0')}`))).filter((c) => c === 'ok'),
    ).toHaveLength(80);
  });

  it('throughput is configurable up to 1,000 per second (ref §5.1)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({
      redisUrl: ctx.infra.redisUrl,
      now: clock.now,
      env: { SANDBOX_THROUGHPUT_MPS: '1000' },
    });
    const codes = await count(1_001, (i) => template(`+1650555${String(i).padStart(4, '0')}`));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1_000);
    expect(codes[1_000]).toBe(130429);
  });

  it('pair rate admits a burst of 45, then one per 6 s, then 131056 (ref §5.2)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    const codes = await count(46, () => template(CUSTOMER));
    expect(codes.slice(0, 45).every((c) => c === 'ok')).toBe(true);
    expect(codes[45]).toBe(131056);
    clock.advance(5_999);
    expect(await count(1, () => template(CUSTOMER))).toEqual([131056]);
    clock.advance(1);
    expect(await count(2, () => template(CUSTOMER))).toEqual(['ok', 131056]);
    // Another recipient has its own bucket.
    expect(await count(1, () => template('+16505550000'))).toEqual(['ok']);
  });

  it('management calls per app × WABA stop at 200 per rolling hour with 80007 (ref §5.4)', async () => {
    const clock = manualClock();
    sbx = await startSandbox({ redisUrl: ctx.infra.redisUrl, now: clock.now });
    // The test WABA has a registered number (5,000/h); deregister to fall back to 200/h.
    await sbx.app.inject({
      method: 'POST',
      url: `/v23.0/${NUMBER_ID}/deregister`,
      headers: { authorization: 'Bearer EAAtestsystemtoken0001' },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 201; i++) {
      const r = await sbx.app.inject({
        url: `/v23.0/${WABA_ID}/phone_numbers`,
        headers: { authorization: 'Bearer EAAtestsystemtoken0001' },
      });
      statuses.push(r.statusCode === 200 ? 0 : (r.json() as { error: { code: number } }).error.code);
    }
    expect(statuses.filter((s) => s === 0)).toHaveLength(200);
    expect(statuses[200]).toBe(80007);
    clock.advance(3_600_000);
    const after = await sbx.graph('GET', `/${WABA_ID}/phone_numbers`);
    expect(after.status).toBe(200);
  });
});
