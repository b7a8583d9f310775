import { BlockList, isIP } from 'node:net';

/**
 * Which proxies in front of the gateway are trusted to report the client's address in
 * `X-Forwarded-For` (the semantics of Fastify's `trustProxy` / `proxy-addr`):
 * - `off`: none; the client is the peer of the TCP connection and the header is ignored, so a
 *   client cannot choose its own address by sending one (what login throttling keys on).
 * - `hops`: the nearest `n` hops are proxies; the client is the `n`-th address counted from
 *   the connection's peer backwards through the header.
 * - `cidrs`: every hop whose address is in one of the listed networks is a proxy; the client
 *   is the first address, walking back from the peer, that is not.
 */
export type TrustProxy =
  | { kind: 'off' }
  | { kind: 'hops'; hops: number }
  | { kind: 'cidrs'; list: BlockList; source: string };

/**
 * Parses `GATEWAY_TRUST_PROXY`: empty or `0` (off), a hop count (`1`), or a comma-separated
 * list of addresses and CIDR networks (`10.0.0.0/8,192.168.1.7,fd00::/8`). Throws a message
 * naming the bad entry.
 */
export function parseTrustProxy(value: string): TrustProxy {
  const text = value.trim();
  if (text === '' || text === '0') return { kind: 'off' };
  if (/^[0-9]+$/.test(text)) return { kind: 'hops', hops: Number(text) };
  const list = new BlockList();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const [address = '', bits] = entry.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32))
      throw new Error(
        `GATEWAY_TRUST_PROXY: "${entry}" is neither an IP address nor a CIDR network; give a hop count (1) or addresses/networks like 10.0.0.0/8,192.168.1.7`,
      );
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return { kind: 'cidrs', list, source: text };
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) compares as `10.0.0.1`. */
const unmap = (address: string) =>
  address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;

function trusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The client's address: `peer` (the socket's remote address) unless trusted proxies vouch
 * for an earlier hop in `forwardedFor` (the `X-Forwarded-For` header, every occurrence).
 */
export function clientIp(
  peer: string,
  forwardedFor: string | string[] | undefined,
  trust: TrustProxy,
): string {
  const self = unmap(peer);
  if (trust.kind === 'off' || forwardedFor === undefined) return self;
  // Nearest first: the peer, then the header from its right end (each proxy appends).
  const hops = [self];
  for (const header of [forwardedFor].flat().reverse()) {
    for (const part of header.split(',').reverse()) {
      const address = unmap(part.trim());
      if (address !== '') hops.push(address);
    }
  }
  const isProxy = (hop: string, index: number) =>
    trust.kind === 'hops' ? index < trust.hops : trusted(trust.list, hop);
  let client = self;
  for (let i = 0; i < hops.length; i++) {
    const hop = hops[i]!;
    // A garbled entry is not an address: the client is the last hop that was one.
    if (isIP(hop) === 0) return client;
    client = hop;
    if (!isProxy(hop, i)) return hop;
  }
  return client;
}
