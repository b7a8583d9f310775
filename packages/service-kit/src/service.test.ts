import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { AppError, ERRORS } from '@wapi/contracts';
import { gate, waitFor } from '@wapi/testkit';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger, createService } from './service';

function app(checks: Parameters<typeof createService>[0]['checks'] = []) {
  const instance = createService({
    service: 'svc',
    version: '1.2.3',
    logLevel: 'silent',
    readinessTimeoutMs: 100,
    checks,
  });
  instance.post(
    '/things',
    {
      schema: { body: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }) },
    },
    async (request) => ({ created: (request.body as { name: string }).name }),
  );
  instance.get('/opted-out', async () => {
    throw new AppError('CONTACT_OPTED_OUT');
  });
  instance.get('/boom', async () => {
    throw new Error('db password is hunter2');
  });
  return instance;
}

describe('error answers', () => {
  it('answers a schema violation with 400 VALIDATION_FAILED naming the field', async () => {
    const res = await app().inject({ method: 'POST', url: '/things', payload: { name: '' } });
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.message).toMatch(/name/);
    expect(body.error.requestId).toBe(res.headers['x-request-id']);
  });

  it('answers malformed JSON with 400 VALIDATION_FAILED and a wrong content type with 415', async () => {
    const bad = await app().inject({
      method: 'POST',
      url: '/things',
      payload: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
    const xml = await app().inject({
      method: 'POST',
      url: '/things',
      payload: '<a/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a catalogue error with its status and code', async () => {
    const res = await app().inject({ method: 'GET', url: '/opted-out' });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('CONTACT_OPTED_OUT');
  });

  it('hides the text of unexpected errors behind INTERNAL_ERROR', async () => {
    const res = await app().inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toMatchObject({
      code: 'INTERNAL_ERROR',
      message: ERRORS.INTERNAL_ERROR.message,
    });
    expect(res.body).not.toContain('hunter2');
  });

  it('answers a 5xx catalogue error with the catalogue text, not its internal detail', async () => {
    const instance = app();
    instance.get('/bad-job', async () => {
      throw new AppError('QUEUE_PAYLOAD_INVALID', 'message.send.v1: /to must match pattern');
    });
    const res = await instance.inject({ method: 'GET', url: '/bad-job' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toMatchObject({
      code: 'QUEUE_PAYLOAD_INVALID',
      message: ERRORS.QUEUE_PAYLOAD_INVALID.message,
    });
  });

  it('keeps a well-formed caller request id and replaces a malformed one', async () => {
    const kept = await app().inject({
      method: 'GET',
      url: '/opted-out',
      headers: { 'x-request-id': 'abc-123' },
    });
    expect(kept.json().error.requestId).toBe('abc-123');
    const replaced = await app().inject({
      method: 'GET',
      url: '/opted-out',
      headers: { 'x-request-id': 'bad id\nwith newline' },
    });
    expect(replaced.json().error.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('readiness', () => {
  it('names a dependency that does not answer within the timeout, with version and uptime', async () => {
    const instance = app([
      { name: 'redis', probe: async () => 'PONG' },
      { name: 'mongodb', probe: () => new Promise(() => undefined) },
    ]);
    const res = await instance.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body).toMatchObject({
      status: 'unavailable',
      service: 'svc',
      version: '1.2.3',
      failed: ['mongodb'],
    });
    // The reason stays in the log; callers see which dependency failed, not its internals.
    expect(body.checks).toEqual([
      { name: 'redis', ok: true, latencyMs: expect.any(Number) },
      { name: 'mongodb', ok: false, latencyMs: expect.any(Number) },
    ]);
    expect(body.versions.node).toBe(process.versions.node);
  });
});

describe('graceful close', () => {
  it('finishes a request in flight before closing, and refuses new ones with 503', async () => {
    const instance = createService({
      service: 'svc',
      version: '0',
      logLevel: 'silent',
      readinessTimeoutMs: 100,
      checks: [],
    });
    const held = gate();
    const inside = gate();
    instance.get('/slow', async () => {
      inside.release();
      await held.promise;
      return { done: true };
    });
    const address = await instance.listen({ host: '127.0.0.1', port: 0 });
    const inflight = fetch(`${address}/slow`);
    await inside.promise;
    const closed = instance.close();
    const during = await fetch(`${address}/health`)
      .then((r) => r.status)
      .catch(() => 'refused');
    expect([503, 'refused']).toContain(during);
    held.release();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closed;
  });

  it('does not run a request that arrives on a busy connection after close() began, and ends that connection', async () => {
    const logs = new PassThrough();
    let logged = '';
    logs.on('data', (chunk: Buffer) => {
      logged += chunk.toString();
    });
    const instance = createService({
      service: 'svc',
      version: '0',
      logLevel: 'info',
      readinessTimeoutMs: 100,
      checks: [],
      log: createLogger('svc', 'info', logs),
    });
    const held = gate();
    const inside = gate();
    let late = 0;
    instance.get('/slow', async () => {
      inside.release();
      await held.promise;
      return { done: true };
    });
    const closing = gate();
    instance.addHook('preClose', async () => closing.release());
    instance.get('/late', async () => {
      late += 1;
      return { ran: true };
    });
    await instance.listen({ host: '127.0.0.1', port: 0 });
    const { port } = instance.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    const socketClosed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await inside.promise;
    const closed = instance.close();
    // The kit's preClose hook (registered first) has run once this one runs.
    await closing.promise;
    socket.write('GET /late HTTP/1.1\r\nHost: x\r\nx-request-id: late-1\r\n\r\n');
    // Node parses the pipelined request while /slow is still held; wait until it has been
    // answered (refused) before letting /slow finish and the connection close.
    await waitFor(async () => logged.includes('"reqId":"late-1"') && logged.includes('SERVICE_UNAVAILABLE'), {
      what: 'the late request to be refused',
    });
    held.release();
    await socketClosed;
    await closed;
    expect(late).toBe(0);
    // It was refused by the closing hook, through the error handler (so in the envelope,
    // had the connection stayed open to carry the answer).
    const refusal = logged
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { reqId?: string; err?: { code?: string; status?: number } })
      .find((entry) => entry.reqId === 'late-1' && entry.err);
    expect(refusal?.err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(received).not.toContain('"ran":true');
  });
});

describe('service metrics', () => {
  it('serves a metric the app registers on app.metrics at /metrics', async () => {
    const instance = createService({
      service: 'svc',
      version: '0',
      logLevel: 'silent',
      readinessTimeoutMs: 100,
      checks: [],
    });
    const sent = new Counter({ name: 'svc_sends_total', help: 'sends', registers: [instance.metrics] });
    sent.inc(3);
    const res = await instance.inject({ method: 'GET', url: '/metrics' });
    expect(res.body).toMatch(/^svc_sends_total\{service="svc"\} 3$/m);
  });
});
