import { describe, expect, it } from 'vitest';
import { clientIp, parseTrustProxy } from './client-ip';

describe('clientIp', () => {
  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientIp('10.0.0.1', '1.2.3.4', parseTrustProxy(''))).toBe('10.0.0.1');
    expect(clientIp('::ffff:10.0.0.1', '1.2.3.4', parseTrustProxy('0'))).toBe('10.0.0.1');
  });

  it('counts hops from the peer backwards through every header occurrence', () => {
    const two = parseTrustProxy('2');
    expect(clientIp('10.0.0.1', ['9.9.9.9, 1.1.1.1', '10.0.0.2'], two)).toBe('1.1.1.1');
    // Fewer hops than trusted: the farthest address given.
    expect(clientIp('10.0.0.1', '1.1.1.1', parseTrustProxy('5'))).toBe('1.1.1.1');
    // A garbled entry stops the walk at the last real address.
    expect(clientIp('10.0.0.1', 'not-an-ip', parseTrustProxy('1'))).toBe('10.0.0.1');
  });

  it('walks back while hops are in the trusted networks (IPv4 and IPv6)', () => {
    const list = parseTrustProxy('10.0.0.0/8,fd00::/8,192.168.1.7');
    expect(clientIp('10.1.1.1', '8.8.8.8, 192.168.1.7', list)).toBe('8.8.8.8');
    expect(clientIp('fd00::1', '2001:db8::5', list)).toBe('2001:db8::5');
    expect(clientIp('8.8.4.4', '1.1.1.1', list)).toBe('8.8.4.4');
  });

  it('refuses a malformed setting naming the entry', () => {
    expect(() => parseTrustProxy('10.0.0.0/33')).toThrow(/10.0.0.0\/33/);
    expect(() => parseTrustProxy('proxy.local')).toThrow(/proxy.local/);
  });
});
