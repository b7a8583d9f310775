import { Type } from '@sinclair/typebox';
import { useTestContext } from '@wapi/testkit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { BaseConfig, createService, RedisConfig, runService } from '../src/index';

const ctx = useTestContext('runsvc');
const schema = { ...BaseConfig, ...RedisConfig, PORT: Type.Integer({ default: 0 }) };

describe('runService with real Redis', () => {
  it('listens only once its request-role connections are ready, so start-up work in onReady reaches Redis', async () => {
    const signals = ['SIGTERM', 'SIGINT'] as const;
    const before = new Map(signals.map((s) => [s, process.listeners(s)]));
    const key = `${ctx.prefix}:onready`;
    let app: FastifyInstance | undefined;
    let request: Redis | undefined;
    let outcome = 'not run';
    const codes: number[] = [];
    try {
      await runService({
        service: 'gateway',
        configSchema: schema,
        env: { REDIS_URL: ctx.infra.redisUrl, LOG_LEVEL: 'silent', HOST: '127.0.0.1' },
        exit: (code) => codes.push(code),
        start: async ({ redis }) => {
          request = redis('request');
          app = createService({
            service: 'gateway',
            version: '0',
            logLevel: 'silent',
            readinessTimeoutMs: 50,
            checks: [],
          });
          // What gateway does at start: refill a cache in Redis before the first request.
          app.addHook('onReady', async () => {
            outcome = await request!.set(key, 'filled').catch((error: Error) => error.message);
          });
          return app;
        },
      });
      expect(codes).toEqual([]);
      expect(outcome).toBe('OK');
      expect(await ctx.redis.get(key)).toBe('filled');
    } finally {
      await app?.close();
      request?.disconnect();
      for (const s of signals)
        for (const listener of process.listeners(s))
          if (!before.get(s)?.includes(listener)) process.removeListener(s, listener);
    }
  });
});
