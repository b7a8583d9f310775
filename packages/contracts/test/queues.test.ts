import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { QUEUE_NAMES, QUEUES, SERVICE_NAMES, SERVICES } from '../src/index';

describe('queue registry', () => {
  it('names every queue family.version', () => {
    for (const name of QUEUE_NAMES) expect(name).toMatch(/^[a-z]+(\.[a-z]+)*\.v\d+$/);
  });

  it('keeps failed jobs as the dead-letter state and retries with backoff', () => {
    for (const name of QUEUE_NAMES) {
      const { defaults } = QUEUES[name];
      expect(defaults.removeOnFail).toBe(false);
      expect(defaults.attempts).toBeGreaterThan(1);
      expect(defaults.backoff.delay).toBeGreaterThan(0);
    }
  });

  it('refuses a send command that carries an access token', () => {
    const command = {
      workspaceId: 'ws_1',
      messageId: 'msg_1',
      phoneNumberId: '1065',
      to: '919876543210',
      category: 'utility',
      content: { type: 'text', text: { body: 'hello' } },
      acceptedAt: '2026-11-25T10:00:00.000Z',
    };
    expect(Value.Check(QUEUES['message.send.v1'].payload, command)).toBe(true);
    expect(Value.Check(QUEUES['message.send.v1'].payload, { ...command, accessToken: 'EAAG...' })).toBe(
      false,
    );
  });

  it('refuses a recipient that is not a WhatsApp id', () => {
    const inbound = {
      workspaceId: 'ws_1',
      phoneNumberId: '1065',
      from: '+91 98765',
      wamid: 'wamid.x',
      receivedAt: '2026-11-25T10:00:00.000Z',
      journalId: 'j1',
      content: { type: 'text', text: { body: 'hi' } },
    };
    expect(Value.Check(QUEUES['message.inbound.v1'].payload, inbound)).toBe(false);
    expect(Value.Check(QUEUES['message.inbound.v1'].payload, { ...inbound, from: '919876543210' })).toBe(
      true,
    );
  });
});

describe('service table', () => {
  it('lists every service once, in order, with distinct ports', () => {
    expect(Object.keys(SERVICES)).toEqual([...SERVICE_NAMES]);
    const ports = SERVICE_NAMES.map((name) => SERVICES[name].port);
    expect(new Set(ports).size).toBe(ports.length);
    expect(SERVICES['meta-sandbox'].database).toBe(false);
  });
});
