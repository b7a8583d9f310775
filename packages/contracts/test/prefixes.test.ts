import { describe, expect, it } from 'vitest';
import { escapeKeyPart, keyOf, prefixPattern, QUEUE_NAMES, queuePrefix } from '../src/index';

/** CRC16-CCITT (XMODEM), the checksum Redis Cluster uses (cluster spec, "Keys hash tags"). */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** HASH_SLOT per the Redis Cluster spec: hash only the first non-empty `{…}`, if any. */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(new TextEncoder().encode(key)) % 16_384;
}

/** The hash tag Redis Cluster would use for `key`, or undefined. */
function tagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** Every key suffix BullMQ 5 writes for a queue (QueueKeys.getKeys) plus a job hash and its logs. */
const BULLMQ_SUFFIXES = [
  '',
  'active',
  'wait',
  'waiting-children',
  'paused',
  'id',
  'delayed',
  'prioritized',
  'stalled-check',
  'completed',
  'failed',
  'stalled',
  'repeat',
  'limiter',
  'meta',
  'events',
  'pc',
  'marker',
  'de',
  'msg_1',
  'msg_1:logs',
  'msg_1:lock',
];
const bullKey = (prefix: string, queue: string, suffix: string) =>
  `${queuePrefix(prefix, queue)}:${queue}:${suffix}`;

describe('slot computation used below', () => {
  it('matches the Redis Cluster spec examples', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x31c3);
    expect(slotOf('foo')).toBe(12_182);
    expect(slotOf('{user1000}.following')).toBe(slotOf('{user1000}.followers'));
    // An empty first tag means no tag: the whole key is hashed.
    expect(slotOf('foo{}{bar}')).toBe(crc16(new TextEncoder().encode('foo{}{bar}')) % 16_384);
    expect(tagOf('foo{}{bar}')).toBeUndefined();
  });
});

describe('queue prefixes', () => {
  it('puts the queue name in a hash tag after KEY_PREFIX', () => {
    expect(queuePrefix('wapi', 'message.send.v1')).toBe('wapi:{q:message.send.v1}');
    expect(bullKey('wapi', 'message.send.v1', 'wait')).toBe('wapi:{q:message.send.v1}:message.send.v1:wait');
  });

  it('keeps every key of one queue on one slot', () => {
    for (const queue of QUEUE_NAMES) {
      const slots = new Set(BULLMQ_SUFFIXES.map((suffix) => slotOf(bullKey('wapi', queue, suffix))));
      expect(slots.size, queue).toBe(1);
    }
  });

  it('gives every registered queue its own tag (and, today, its own slot)', () => {
    const tags = QUEUE_NAMES.map((queue) => tagOf(bullKey('wapi', queue, 'wait')));
    expect(new Set(tags).size).toBe(QUEUE_NAMES.length);
    // Distinct tags can still collide on a slot; with today's names they do not.
    const slots = QUEUE_NAMES.map((queue) => slotOf(bullKey('wapi', queue, 'wait')));
    expect(new Set(slots).size).toBe(QUEUE_NAMES.length);
  });

  it('refuses prefixes and queue names that would break the layout', () => {
    for (const bad of ['', 'a:b', '{wapi}', 'wa}pi', 'wa*', 'x'.repeat(65)]) {
      expect(() => queuePrefix(bad, 'message.send.v1'), bad).toThrow(/KEY_PREFIX/);
    }
    for (const bad of ['a:b', 'a}b', '', 'a{b'])
      expect(() => queuePrefix('wapi', bad), bad).toThrow(RangeError);
  });
});

describe('plain keys', () => {
  it('tags each family separately, after KEY_PREFIX', () => {
    expect(keyOf('wapi', 'window', 'ws1', '9198')).toBe('wapi:{window}:ws1:9198');
    expect(slotOf(keyOf('wapi', 'window', 'ws1', 'a'))).toBe(slotOf(keyOf('wapi', 'window', 'ws2', 'b')));
    expect(tagOf(keyOf('wapi', 'window', 'a'))).not.toBe(tagOf(keyOf('wapi', 'ratelimit', 'a')));
    // A family tag never equals a queue tag (queue tags contain ':', family names cannot).
    expect(() => keyOf('wapi', 'q:message.send.v1')).toThrow(RangeError);
    for (const bad of ['', 'Window', 'a{b', 'a}b', 'a:b', '1x'])
      expect(() => keyOf('wapi', bad), bad).toThrow(RangeError);
  });

  it('starts every key with KEY_PREFIX so one SCAN pattern finds them all, and only them', () => {
    const pattern = prefixPattern('t_1');
    expect(pattern).toBe('t_1:*');
    const glob = new RegExp(`^${pattern.replace('*', '.*')}$`);
    expect(glob.test(keyOf('t_1', 'window', 'x'))).toBe(true);
    expect(glob.test(bullKey('t_1', 'audit.v1', 'wait'))).toBe(true);
    expect(glob.test(keyOf('t_12', 'window', 'x'))).toBe(false);
    expect(glob.test(bullKey('t_1x', 'audit.v1', 'wait'))).toBe(false);
  });

  it('never lets a part open a hash tag or leave its family', () => {
    const key = keyOf('wapi', 'window', '{evil}', 'a}b{c');
    expect(tagOf(key)).toBe('window');
    expect(key).toBe('wapi:{window}:%7Bevil%7D:a%7Db%7Bc');
    expect(escapeKeyPart('100%:{}')).toBe('100%25%3A%7B%7D');
  });

  it('is injective: different part lists never give the same key', () => {
    const atoms = ['', 'a', 'b', ':', '%', '%3A', '%25', '{', '}', '{a}', 'a:b', '%7B', '::', 'é', '\u0000'];
    // Every list of 0-3 atoms: 1 + 15 + 225 + 3,375 lists, all distinct.
    const lists: string[][] = [[]];
    for (let length = 1; length <= 3; length++) {
      for (const list of lists.filter((l) => l.length === length - 1)) {
        for (const atom of atoms) lists.push([...list, atom]);
      }
    }
    const seen = new Map<string, string>();
    for (const list of lists) {
      const key = keyOf('wapi', 'f', ...list);
      const previous = seen.get(key);
      expect(previous, `${JSON.stringify(list)} and ${previous} give ${key}`).toBeUndefined();
      seen.set(key, JSON.stringify(list));
      expect(tagOf(key)).toBe('f');
    }
    expect(seen.size).toBe(1 + 15 + 225 + 3_375);
  });
});
