import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { BaseConfig, ConfigError, loadConfig, MongoConfig, RedisConfig } from './config';

const schema = { ...BaseConfig, ...RedisConfig, ...MongoConfig, WORKERS: Type.Integer({ minimum: 1 }) };

describe('loadConfig', () => {
  it('converts, applies defaults and freezes', () => {
    const config = loadConfig('svc', schema, {
      PORT: '8080',
      REDIS_URL: 'redis://127.0.0.1:6379',
      MONGO_URL: 'mongodb://127.0.0.1:27017/',
      WORKERS: '4',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      WORKERS: 4,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      KEY_PREFIX: 'wapi',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lists every missing and every malformed variable in one error', () => {
    let caught: unknown;
    try {
      loadConfig('svc', schema, { PORT: 'eighty', REDIS_URL: 'http://nope', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const { problems, message } = caught as ConfigError;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^MONGO_URL is required/),
        expect.stringMatching(/^WORKERS is required/),
        expect.stringMatching(/^PORT is malformed/),
        expect.stringMatching(/^REDIS_URL is malformed/),
        expect.stringMatching(/^LOG_LEVEL is malformed/),
      ]),
    );
    expect(problems).toHaveLength(5);
    expect(message).toContain('svc: invalid configuration (5 problems)');
  });

  it('treats an empty variable as missing', () => {
    expect(() => loadConfig('svc', { REDIS_URL: RedisConfig.REDIS_URL }, { REDIS_URL: '' })).toThrow(
      /REDIS_URL is required/,
    );
  });

  it('refuses numbers that a lenient parser would silently change', () => {
    for (const port of ['1e3', '80.5', '0x1F', 'true']) {
      expect(() => loadConfig('svc', { PORT: BaseConfig.PORT }, { PORT: port })).toThrow(
        /PORT is malformed: expected a whole number/,
      );
    }
  });

  it('names the allowed values of an enumerated variable and refuses a URL without a host', () => {
    expect(() => loadConfig('svc', { LOG_LEVEL: BaseConfig.LOG_LEVEL }, { LOG_LEVEL: 'INFO' })).toThrow(
      /LOG_LEVEL is malformed: expected one of fatal, error, warn, info, debug, trace, silent, got "INFO"/,
    );
    expect(() => loadConfig('svc', RedisConfig, { REDIS_URL: 'redis://' })).toThrow(/REDIS_URL is malformed/);
  });
});
