import { Type } from '@sinclair/typebox';
import { AppError, ERROR_CODES, ERRORS } from '@wapi/contracts';
import { errorCodes } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createService } from './service';

/** An error as a library would throw it: its own text, a 4xx/5xx status. */
const libraryError = (message: string, statusCode: number) =>
  Object.assign(new Error(message), { statusCode });

const LIBRARY_TEXT = 'Graph said: (#100) Invalid parameter access_token=EAAGsecretvalue for phone 15550001';

function app() {
  const instance = createService({
    service: 'svc',
    version: '0',
    logLevel: 'silent',
    readinessTimeoutMs: 100,
    checks: [],
  });
  instance.post(
    '/things',
    {
      schema: { body: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }) },
    },
    async (request) => ({ created: (request.body as { name: string }).name }),
  );
  instance.post('/small', { bodyLimit: 16 }, async () => ({ ok: true }));
  instance.get('/library/:status', async (request) => {
    throw libraryError(LIBRARY_TEXT, Number((request.params as { status: string }).status));
  });
  instance.get('/rate-limited', async (_request, reply) => {
    // What @fastify/rate-limit does: set the headers, then throw its builder's result.
    reply.header('retry-after', '60');
    throw libraryError('Rate limit exceeded, retry in 1 minute', 429);
  });
  instance.get('/rate-limited-object', async () => {
    // A custom errorResponseBuilder returning a plain object, which the plugin throws.
    throw { statusCode: 429, error: 'Too Many Requests', message: 'slow down, key abc123' };
  });
  instance.get('/fastify-unmapped', async () => {
    throw new errorCodes.FST_ERR_CTP_INSTANCE_ALREADY_STARTED('addContentTypeParser');
  });
  instance.get('/fastify-not-found', async () => {
    throw new errorCodes.FST_ERR_NOT_FOUND();
  });
  instance.get('/fastify-unmapped-405', async () => {
    throw Object.assign(new Error('internal detail of a future Fastify error'), {
      code: 'FST_ERR_SOMETHING_NEW',
      statusCode: 405,
    });
  });
  instance.get('/app-error', async () => {
    throw new AppError('CONTACT_OPTED_OUT', 'Contact +1555 opted out of marketing.');
  });
  instance.get('/app-error-5xx', async () => {
    throw new AppError('QUEUE_PAYLOAD_INVALID', 'payload/to must match pattern ^\\+');
  });
  instance.get('/boom', async () => {
    throw new Error('db password is hunter2');
  });
  instance.get('/thrown-string', async () => {
    throw 'a string with internal detail';
  });
  instance.get('/odd-status', async () => {
    throw libraryError('status out of range, internal detail', 700);
  });
  return instance;
}

type Injected = Awaited<ReturnType<ReturnType<typeof app>['inject']>>;

/** Asserts the envelope, status and code, and returns the message. */
function expectError(res: Injected, status: number, code: string): string {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: { code: string; message: string; requestId: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
  expect(body.error.code).toBe(code);
  expect(ERROR_CODES).toContain(code);
  expect(body.error.requestId).toBe(res.headers['x-request-id']);
  return body.error.message;
}

describe('framework errors in the catalogue envelope', () => {
  it('answers an unsupported content type with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await app().inject({
      method: 'POST',
      url: '/things',
      payload: '<a/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE')).toMatch(/application\/json/);
  });

  it('answers invalid JSON with 400 VALIDATION_FAILED saying what to fix', async () => {
    const res = await app().inject({
      method: 'POST',
      url: '/things',
      payload: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(expectError(res, 400, 'VALIDATION_FAILED')).toMatch(/not valid JSON/);
  });

  it('answers an empty JSON body with 400 VALIDATION_FAILED', async () => {
    const res = await app().inject({
      method: 'POST',
      url: '/things',
      payload: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(expectError(res, 400, 'VALIDATION_FAILED')).toMatch(/empty/);
  });

  it('answers a schema violation with 400 VALIDATION_FAILED naming the field', async () => {
    const res = await app().inject({ method: 'POST', url: '/things', payload: { name: '' } });
    expect(expectError(res, 400, 'VALIDATION_FAILED')).toMatch(/name/);
  });

  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE naming the limit', async () => {
    const res = await app().inject({ method: 'POST', url: '/small', payload: { text: 'x'.repeat(100) } });
    expect(expectError(res, 413, 'PAYLOAD_TOO_LARGE')).toMatch(/16 bytes/);
  });

  it('answers a body that does not match its Content-Length with 400 BAD_REQUEST', async () => {
    const res = await app().inject({
      method: 'POST',
      url: '/things',
      payload: '{"name":"a"}',
      headers: { 'content-type': 'application/json', 'content-length': '5' },
    });
    expect(expectError(res, 400, 'BAD_REQUEST')).toMatch(/Content-Length/);
  });

  it('answers an unknown route or method with 404 ROUTE_NOT_FOUND', async () => {
    const instance = app();
    expect(
      expectError(await instance.inject({ method: 'GET', url: '/nope?token=x' }), 404, 'ROUTE_NOT_FOUND'),
    ).toBe('No route for GET /nope; check the method and path.');
    expectError(await instance.inject({ method: 'DELETE', url: '/things' }), 404, 'ROUTE_NOT_FOUND');
    // Fastify's own not-found error thrown from a handler lands in the same answer.
    expectError(await instance.inject({ method: 'GET', url: '/fastify-not-found' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('answers a 429 in the shapes @fastify/rate-limit throws with RATE_LIMITED, keeping Retry-After', async () => {
    const instance = app();
    const res = await instance.inject({ method: 'GET', url: '/rate-limited' });
    expect(expectError(res, 429, 'RATE_LIMITED')).toBe(ERRORS.RATE_LIMITED.message);
    expect(res.headers['retry-after']).toBe('60');
    const plain = await instance.inject({ method: 'GET', url: '/rate-limited-object' });
    expect(expectError(plain, 429, 'RATE_LIMITED')).toBe(ERRORS.RATE_LIMITED.message);
  });

  it('answers a Fastify error with a 4xx not in the map with the catalogue message, status kept', async () => {
    const instance = app();
    const res = await instance.inject({ method: 'GET', url: '/fastify-unmapped' });
    expect(expectError(res, 400, 'BAD_REQUEST')).toBe(ERRORS.BAD_REQUEST.message);
    const other = await instance.inject({ method: 'GET', url: '/fastify-unmapped-405' });
    expect(expectError(other, 405, 'BAD_REQUEST')).toBe(ERRORS.BAD_REQUEST.message);
  });
});

describe('errors from our code and from libraries', () => {
  it('never sends the text of a library error with a 4xx status; keeps the status', async () => {
    const instance = app();
    for (const [status, code] of [
      [400, 'BAD_REQUEST'],
      [401, 'BAD_REQUEST'],
      [404, 'BAD_REQUEST'],
      [413, 'PAYLOAD_TOO_LARGE'],
      [415, 'UNSUPPORTED_MEDIA_TYPE'],
    ] as const) {
      const res = await instance.inject({ method: 'GET', url: `/library/${status}` });
      expect(expectError(res, status, code)).toBe(ERRORS[code].message);
      expect(res.body).not.toContain('EAAGsecretvalue');
      expect(res.body).not.toContain('Graph said');
    }
  });

  it('answers a library 5xx with the catalogue text: 500 INTERNAL_ERROR, 503 DEPENDENCY_UNAVAILABLE', async () => {
    const instance = app();
    const res = await instance.inject({ method: 'GET', url: '/library/502' });
    expect(expectError(res, 500, 'INTERNAL_ERROR')).toBe(ERRORS.INTERNAL_ERROR.message);
    const unavailable = await instance.inject({ method: 'GET', url: '/library/503' });
    expect(expectError(unavailable, 503, 'DEPENDENCY_UNAVAILABLE')).toBe(
      ERRORS.DEPENDENCY_UNAVAILABLE.message,
    );
    expect(unavailable.body).not.toContain('Graph said');
  });

  it('hides unexpected errors, thrown non-Errors and out-of-range statuses behind 500 INTERNAL_ERROR', async () => {
    const instance = app();
    for (const url of ['/boom', '/thrown-string', '/odd-status']) {
      const res = await instance.inject({ method: 'GET', url });
      expect(expectError(res, 500, 'INTERNAL_ERROR')).toBe(ERRORS.INTERNAL_ERROR.message);
      expect(res.body).not.toMatch(/hunter2|internal detail/);
    }
  });

  it('keeps the message of a 4xx AppError and replaces that of a 5xx AppError', async () => {
    const instance = app();
    const optedOut = await instance.inject({ method: 'GET', url: '/app-error' });
    expect(expectError(optedOut, 403, 'CONTACT_OPTED_OUT')).toBe('Contact +1555 opted out of marketing.');
    const queue = await instance.inject({ method: 'GET', url: '/app-error-5xx' });
    expect(expectError(queue, 500, 'QUEUE_PAYLOAD_INVALID')).toBe(ERRORS.QUEUE_PAYLOAD_INVALID.message);
  });

  it('answers a malformed percent-encoding in a path parameter with 400 in the envelope, without echoing it', async () => {
    const instance = app();
    const res = await instance.inject({
      method: 'GET',
      url: '/library/%E0%A4%A',
      headers: { 'x-request-id': 'req-bad-url' },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: { code: string; message: string; requestId: string } };
    expect(body.error.requestId).toBe('req-bad-url');
    expect(body.error.code).toBe('BAD_REQUEST');
    expect(res.body).not.toContain('%E0%A4%A');
  });
});
