// @ts-check
// The one way the six built services are started as separate OS processes and wired to each
// other: `./wapi up` (scripts/up.mjs, one instance each) and the end-to-end suite (two
// instances of webhook-ingest and message-sender) both call startPlatform(), so what the
// suite proves is how the platform really runs on this machine.
//
// Plain JavaScript (checked by tsc through JSDoc): scripts/up.mjs runs under plain Node 20,
// which cannot load TypeScript.
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, connect as tcpConnect } from 'node:net';
import { join, resolve } from 'node:path';

/** The repository root (this file is packages/e2e/src/platform.mjs). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/**
 * Start order follows dependencies: vault and compliance before those that call them,
 * meta-sandbox before the services that call Meta, webhook-ingest before the sandbox's
 * callback is verified, gateway last (its readiness means the whole path is up).
 */
export const START_ORDER = /** @type {const} */ ([
  'vault',
  'compliance',
  'meta-sandbox',
  'webhook-ingest',
  'message-sender',
  'gateway',
]);
/** @typedef {(typeof START_ORDER)[number]} ServiceName */

/**
 * @typedef {object} ServiceEntry  a row of packages/contracts/src/services.json
 * @property {number} port          default port
 * @property {boolean} database      owns a MongoDB database
 * @property {boolean} internalAuth  takes part in service-to-service auth
 * @property {string[]} callers      who may call its /internal routes
 */

/** @returns {Record<ServiceName, ServiceEntry>} packages/contracts/src/services.json */
export function readServiceTable(root = REPO_ROOT) {
  const table = JSON.parse(readFileSync(join(root, 'packages', 'contracts', 'src', 'services.json'), 'utf8'));
  const missing = START_ORDER.filter((name) => !table[name]);
  const extra = Object.keys(table).filter((name) => !START_ORDER.includes(/** @type {ServiceName} */ (name)));
  if (missing.length || extra.length)
    throw new Error(
      `START_ORDER in packages/e2e/src/platform.mjs and services.json disagree (missing: ${missing.join(', ') || '-'}, extra: ${extra.join(', ') || '-'}); update START_ORDER`,
    );
  return table;
}

/**
 * One Ed25519 key pair per service, by the same generator docker-compose runs
 * (infra/compose/internal-keys.mjs). Idempotent: existing keys are kept.
 * @param {string} keysDir
 */
export function generateInternalKeys(keysDir, root = REPO_ROOT) {
  const generated = spawnSync(
    process.execPath,
    [
      join(root, 'infra', 'compose', 'internal-keys.mjs'),
      join(root, 'packages', 'contracts', 'src', 'services.json'),
      keysDir,
    ],
    { encoding: 'utf8' },
  );
  if (generated.status !== 0)
    throw new Error(`could not generate the internal-auth keys into ${keysDir}: ${generated.stderr}`);
}

/**
 * A service token (EdDSA JWT, 60 s) from `caller` to `audience`, signed with the caller's key
 * from `keysDir`: what the caller's service-kit would send. Used to check the key wiring and
 * to seed what only a service may write (the platform's Meta app secret in vault).
 * @param {string} keysDir
 * @param {string} caller
 * @param {string} audience
 */
export function serviceToken(keysDir, caller, audience) {
  const seed = Buffer.from(readFileSync(join(keysDir, caller, 'private-key'), 'utf8').trim(), 'base64url');
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const now = Math.floor(Date.now() / 1000);
  /** @param {unknown} value */
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ iss: caller, aud: audience, iat: now, exp: now + 60 })}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/**
 * A file holding 32 random bytes as hex, created once (mode 0600) and kept: vault's master
 * key and gateway's token-signing key must survive restarts (secrets sealed and logins issued
 * in one run still open in the next).
 * @param {string} file
 */
export function ensureKeyFile(file) {
  if (!existsSync(file)) {
    mkdirSync(resolve(file, '..'), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return file;
}

/**
 * The Meta app the platform receives webhooks for. Its secret is seeded into vault (workspace
 * `platform`, purpose `meta.app_secret`, record = app id), where webhook-ingest reads it by
 * the ids in META_APP_IDS; META_APP_SECRETS carries it too, for a webhook-ingest that does
 * not read vault yet.
 * @typedef {object} MetaApp
 * @property {string} appId
 * @property {string} appSecret
 * @property {string} verifyToken  the GET handshake's hub.verify_token
 */

/**
 * @typedef {object} PlatformOptions
 * @property {{ redisUrl: string, mongoUrl: string }} infra
 * @property {string} keysDir  internal-auth keys (generated here when missing)
 * @property {string} vaultMasterKeyFile  created when missing
 * @property {string} gatewayTokenKeyFile  created when missing
 * @property {MetaApp} metaApp
 * @property {string} [namespace]  Redis key prefix and database-name prefix (a second platform beside the first)
 * @property {Partial<Record<ServiceName, number>>} [instances]  processes per service (default 1)
 * @property {(name: ServiceName, index: number) => Promise<number>} port  where an instance listens
 * @property {(name: ServiceName, index: number) => import('node:stream').Writable} log  where its stdout and stderr go
 * @property {Partial<Record<ServiceName, Record<string, string>>>} [env]  extra variables per service
 * @property {string} [sandboxAdminToken]  generated when absent
 * @property {string} [logLevel]
 * @property {(svc: RunningService, code: number | null, signal: string | null) => void} [onUnexpectedExit]
 * @property {(message: string) => void} [say]
 * @property {number} [readyTimeoutMs]
 */

/**
 * @typedef {object} RunningService
 * @property {ServiceName} name
 * @property {number} index  0 for the first instance
 * @property {number} port
 * @property {string} url
 * @property {import('node:child_process').ChildProcess} child
 */

/**
 * @typedef {object} Platform
 * @property {RunningService[]} services  every process, in start order
 * @property {(name: ServiceName) => string} url  the base URL clients use (a service's first instance; for webhook-ingest with several, the balancer in front)
 * @property {string} webhookUrl  where Meta (the sandbox) posts webhooks
 * @property {string} sandboxAdminToken
 * @property {(caller: ServiceName, audience: ServiceName) => string} token  a service token, for operator calls
 * @property {(timeoutMs?: number) => Promise<void>} stop  SIGTERM to all, SIGKILL after the grace period; idempotent
 */

const GRACE_MS = 15_000;

/**
 * Round-robin TCP balancer in front of several instances, standing in for the load balancer a
 * deployment puts before webhook-ingest: each connection goes to the next instance, so Meta's
 * retries and injected duplicates of one webhook may land on different instances.
 * @param {number[]} ports
 * @returns {Promise<{ port: number, close(): Promise<void> }>}
 */
async function startBalancer(ports) {
  let next = 0;
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  const server = createTcpServer((client) => {
    const upstream = tcpConnect(/** @type {number} */ (ports[next++ % ports.length]), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      // A reset on either side ends both; the sender of the request sees a failed POST and retries.
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', () => done(undefined)));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('balancer: no port');
  return {
    port: address.port,
    close: () =>
      new Promise((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done(undefined));
      }),
  };
}

/**
 * Starts the six services (built `apps/<name>/dist/server.js`) wired to each other: internal
 * URLs, internal-auth keys, meta-sandbox as Graph for message-sender and the sandbox posting
 * webhooks to webhook-ingest. Resolves once every process answers `/health/ready` and every
 * service accepts a token from each of its allowed callers.
 * @param {PlatformOptions} options
 * @returns {Promise<Platform>}
 */
export async function startPlatform(options) {
  const say = options.say ?? (() => undefined);
  const table = readServiceTable();
  generateInternalKeys(options.keysDir);
  ensureKeyFile(options.vaultMasterKeyFile);
  ensureKeyFile(options.gatewayTokenKeyFile);
  const sandboxAdminToken = options.sandboxAdminToken ?? randomBytes(24).toString('base64url');
  const ns = options.namespace;
  if (ns !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(ns))
    throw new Error('the namespace must be 1-32 of [A-Za-z0-9_-]');

  /** @type {RunningService[]} */
  const services = [];
  /** @type {{ port: number, close(): Promise<void> } | undefined} */
  let balancer;
  let stopping = false;
  /** @type {Partial<Record<ServiceName, string>>} */
  const urls = {};

  /** @param {number} [timeoutMs] */
  async function stop(timeoutMs = GRACE_MS) {
    if (stopping) return;
    stopping = true;
    for (const svc of services) if (svc.child.exitCode === null) svc.child.kill('SIGTERM');
    const deadline = Date.now() + timeoutMs;
    const running = () => services.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
    while (running().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const svc of running()) {
      say(`${svc.name} did not stop within ${timeoutMs / 1000} s; killing it`);
      svc.child.kill('SIGKILL');
    }
    await balancer?.close();
  }

  /** @param {ServiceName} name */
  const urlOf = (name) => {
    const url = urls[name];
    if (!url) throw new Error(`${name} is not started yet (START_ORDER puts it later)`);
    return url;
  };

  /** @param {ServiceName} name @returns {Record<string, string>} */
  function wiring(name) {
    const meta = options.metaApp;
    switch (name) {
      case 'vault':
        return { TOKEN_MASTER_KEY_FILE: options.vaultMasterKeyFile };
      case 'meta-sandbox':
        return { SANDBOX_ADMIN_TOKEN: sandboxAdminToken };
      case 'webhook-ingest':
        return {
          META_APP_IDS: meta.appId,
          META_APP_SECRETS: meta.appSecret,
          WEBHOOK_VERIFY_TOKEN: meta.verifyToken,
          VAULT_URL: urlOf('vault'),
          // gateway starts later; the directory in Redis answers until then, and a miss after
          // that is asked of gateway.
          GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`,
        };
      case 'message-sender':
        return { GRAPH_BASE_URL: urlOf('meta-sandbox'), VAULT_URL: urlOf('vault') };
      case 'gateway':
        return {
          ACCESS_TOKEN_PRIVATE_KEY_FILE: options.gatewayTokenKeyFile,
          COMPLIANCE_URL: urlOf('compliance'),
          VAULT_URL: urlOf('vault'),
          // Embedded Signup and template calls go to Graph (meta-sandbox here).
          GRAPH_BASE_URL: urlOf('meta-sandbox'),
          META_APP_ID: meta.appId,
          META_APP_SECRET: meta.appSecret,
        };
      default:
        return {};
    }
  }

  /**
   * @param {ServiceName} name
   * @param {number} index
   */
  async function launch(name, index) {
    const entry = join(REPO_ROOT, 'apps', name, 'dist', 'server.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing; build first (pnpm turbo run build)`);
    const svc = table[name];
    const port = name === 'gateway' && index === 0 ? gatewayPort : await options.port(name, index);
    /** @type {Record<string, string>} */
    const env = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: options.logLevel ?? 'info',
      REDIS_URL: options.infra.redisUrl,
      ...(ns ? { KEY_PREFIX: ns } : {}),
      ...(svc.database
        ? {
            MONGO_URL: options.infra.mongoUrl,
            ...(ns ? { MONGO_DB: `${ns}_${name.replaceAll('-', '_')}` } : {}),
          }
        : {}),
      ...(svc.internalAuth
        ? {
            INTERNAL_AUTH_PRIVATE_KEY_FILE: join(options.keysDir, name, 'private-key'),
            INTERNAL_AUTH_PUBLIC_KEYS_FILE: join(options.keysDir, name, 'public-keys'),
          }
        : {}),
      ...wiring(name),
      ...(options.env?.[name] ?? {}),
    };
    const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = options.log(name, index);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    /** @type {RunningService} */
    const record = { name, index, port, url: `http://127.0.0.1:${port}`, child };
    services.push(record);
    child.on('exit', (code, signal) => {
      if (!stopping) options.onUnexpectedExit?.(record, code, signal);
    });
    return record;
  }

  /** @param {RunningService} svc @param {number} deadline */
  async function ready(svc, deadline) {
    for (;;) {
      if (svc.child.exitCode !== null || svc.child.signalCode !== null)
        throw new Error(
          `${svc.name} exited during start-up (${svc.child.signalCode ?? `code ${svc.child.exitCode}`}); see its log`,
        );
      const ok = await fetch(`${svc.url}/health/ready`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(
          `${svc.name} is not ready after ${(options.readyTimeoutMs ?? 60_000) / 1000} s; see its log`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // gateway's port is chosen first: webhook-ingest is told where gateway will be.
  const gatewayPort = await options.port('gateway', 0);
  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
    for (const name of START_ORDER) {
      const count = options.instances?.[name] ?? 1;
      const started = [];
      for (let i = 0; i < count; i++) {
        const svc = await launch(name, i);
        started.push(svc);
        say(`started ${name}${count > 1 ? ` #${i + 1}` : ''} on ${svc.url}`);
      }
      // Each group is ready before the next starts: webhook-ingest reads its app secret from
      // vault, the sandbox's callback handshake needs webhook-ingest, and so on.
      await Promise.all(started.map((svc) => ready(svc, deadline)));
      if (count > 1 && name === 'webhook-ingest') {
        balancer = await startBalancer(started.map((s) => s.port));
        urls[name] = `http://127.0.0.1:${balancer.port}`;
      } else {
        urls[name] = /** @type {RunningService} */ (started[0]).url;
      }
      if (name === 'vault') await seedAppSecret(urls.vault ?? '', options.keysDir, options.metaApp);
    }

    // Every service accepts each of its allowed callers: the keys are wired as services.json says.
    for (const svc of services) {
      const row = table[svc.name];
      if (!row.internalAuth) continue;
      for (const caller of row.callers) {
        const res = await fetch(`${svc.url}/internal/v1/whoami`, {
          headers: { authorization: `Bearer ${serviceToken(options.keysDir, caller, svc.name)}` },
        });
        if (res.status !== 200)
          throw new Error(
            `${svc.name} refused a token from ${caller} (HTTP ${res.status}); internal auth is miswired`,
          );
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    services,
    url: urlOf,
    webhookUrl: `${urlOf('webhook-ingest')}/api/v1/webhook`,
    sandboxAdminToken,
    token: (caller, audience) => serviceToken(options.keysDir, caller, audience),
    stop,
  };
}

/**
 * Stores the Meta app secret where webhook-ingest reads it: vault, workspace `platform`,
 * purpose `meta.app_secret`, record = the app id. Only gateway may write that purpose, so the
 * call carries a token minted for gateway (the operator's way in, as with any internal call).
 * Idempotent: a PUT stores or replaces.
 * @param {string} vaultUrl
 * @param {string} keysDir
 * @param {MetaApp} app
 */
export async function seedAppSecret(vaultUrl, keysDir, app) {
  const res = await fetch(
    `${vaultUrl}/internal/v1/workspaces/platform/secrets/meta.app_secret/${encodeURIComponent(app.appId)}`,
    {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${serviceToken(keysDir, 'gateway', 'vault')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ value: app.appSecret }),
    },
  );
  if (!res.ok)
    throw new Error(
      `vault refused the Meta app secret (HTTP ${res.status}: ${await res.text()}); check vault's log and its internal-auth keys`,
    );
}
