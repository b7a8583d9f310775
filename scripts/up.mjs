#!/usr/bin/env node
// Starts the six built services against the infrastructure in .infra/env, waits until
// each answers /health/ready, prints their URLs, and on SIGINT/SIGTERM stops them all
// (SIGTERM, then SIGKILL after a grace period). Logs go to .infra/logs/<service>.log.
// Called by `./wapi up` after the infrastructure is up and the services are built.
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const infraDir = process.env.WAPI_INFRA_DIR ?? join(root, '.infra');
const logDir = join(infraDir, 'logs');
const GRACE_MS = 15_000;
const READY_TIMEOUT_MS = 60_000;

// The service table (ports, who owns a database) is packages/contracts/src/services.json.
// Start order follows dependencies: vault and compliance before those that call them,
// meta-sandbox before the services that call Meta.
const START_ORDER = ['vault', 'compliance', 'meta-sandbox', 'webhook-ingest', 'message-sender', 'gateway'];
const table = JSON.parse(readFileSync(join(root, 'packages', 'contracts', 'src', 'services.json'), 'utf8'));
const SERVICES = START_ORDER.map((name) => ({
  name,
  port: table[name].port,
  mongo: table[name].database,
  internalAuth: table[name].internalAuth,
  callers: table[name].callers,
}));
if (SERVICES.length !== Object.keys(table).length)
  throw new Error('START_ORDER must name every service in services.json');

const say = (msg) => process.stderr.write(`[wapi] ${msg}\n`);

function readInfraEnv() {
  const file = join(infraDir, 'env');
  if (!existsSync(file)) throw new Error(`${file} is missing; run: bash infra/infra.sh start`);
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line.trim()))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  );
}

function portIsFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function choosePort(name, preferred) {
  const override = process.env[`WAPI_${name.toUpperCase().replace(/-/g, '_')}_PORT`];
  if (override) return Number(override);
  for (let port = preferred; port < preferred + 100; port += 10) {
    if (await portIsFree(port)) {
      if (port !== preferred) say(`${name}: port ${preferred} is in use; using ${port}`);
      return port;
    }
  }
  throw new Error(
    `${name}: no free port near ${preferred}; set WAPI_${name.toUpperCase().replace(/-/g, '_')}_PORT`,
  );
}

// Internal auth: one Ed25519 key pair per service, made by the same generator docker-compose
// runs (infra/compose/internal-keys.mjs), kept in <infra dir>/keys and passed as *_FILE: each
// service reads its own private key and the public keys of the callers services.json allows.
const keysDir = join(infraDir, 'keys');
const generated = spawnSync(
  process.execPath,
  [
    join(root, 'infra', 'compose', 'internal-keys.mjs'),
    join(root, 'packages', 'contracts', 'src', 'services.json'),
    keysDir,
  ],
  { encoding: 'utf8' },
);
if (generated.status !== 0) throw new Error(`could not generate the internal-auth keys: ${generated.stderr}`);
function internalAuthEnv(svc) {
  if (!svc.internalAuth) return {};
  return {
    INTERNAL_AUTH_PRIVATE_KEY_FILE: join(keysDir, svc.name, 'private-key'),
    INTERNAL_AUTH_PUBLIC_KEYS_FILE: join(keysDir, svc.name, 'public-keys'),
  };
}
/** A service token from `caller` to `audience`, to check the key wiring once everything is up. */
function serviceToken(caller, audience) {
  const seed = Buffer.from(readFileSync(join(keysDir, caller, 'private-key'), 'utf8').trim(), 'base64url');
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const now = Math.floor(Date.now() / 1000);
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'EdDSA', typ: 'JWT' })}.${part({ iss: caller, aud: audience, iat: now, exp: now + 60 })}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

// WAPI_NAMESPACE runs a second platform beside the first on the same infrastructure: its own
// Redis key prefix and databases (the up test uses it to stay out of a developer's way).
const namespace = process.env.WAPI_NAMESPACE;
if (namespace !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(namespace))
  throw new Error('WAPI_NAMESPACE must be 1-32 of [A-Za-z0-9_-]');
function namespaceEnv(svc) {
  if (!namespace) return {};
  return {
    KEY_PREFIX: namespace,
    ...(svc.mongo ? { MONGO_DB: `${namespace}_${svc.name.replaceAll('-', '_')}` } : {}),
  };
}

const infra = readInfraEnv();
// The sandbox's control API token, fresh per run (printed below for the developer).
const sandboxAdminToken = process.env.SANDBOX_ADMIN_TOKEN ?? randomBytes(24).toString('base64url');
// vault's first key-encryption key, kept under the infra dir (mode 0600) so that secrets
// stored in one run still open in the next; delete the file only together with vault's data.
const vaultMasterKeyFile = join(infraDir, 'vault-master-key');
if (!existsSync(vaultMasterKeyFile)) {
  mkdirSync(infraDir, { recursive: true });
  writeFileSync(vaultMasterKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}
// gateway's access-token signing key, kept like vault's so logins survive a restart.
const gatewayTokenKeyFile = join(infraDir, 'gateway-access-token-key');
if (!existsSync(gatewayTokenKeyFile)) {
  mkdirSync(infraDir, { recursive: true });
  writeFileSync(gatewayTokenKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}
mkdirSync(logDir, { recursive: true });

const running = [];
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  say('stopping the services…');
  for (const svc of running) if (svc.child.exitCode === null) svc.child.kill('SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (
    running.some((s) => s.child.exitCode === null && s.child.signalCode === null) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const svc of running) {
    if (svc.child.exitCode === null && svc.child.signalCode === null) {
      say(`${svc.name} did not stop within ${GRACE_MS / 1000} s; killing it`);
      svc.child.kill('SIGKILL');
    }
  }
  say('all services stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  for (const [index, svc] of SERVICES.entries()) {
    const entry = join(root, 'apps', svc.name, 'dist', 'server.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing; build first (pnpm turbo run build)`);
    const port = await choosePort(svc.name, svc.port);
    const env = {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      REDIS_URL: infra.WAPI_REDIS_URL,
      ...internalAuthEnv(svc),
      ...namespaceEnv(svc),
      ...(svc.mongo ? { MONGO_URL: infra.WAPI_MONGO_URL } : {}),
      ...(svc.name === 'meta-sandbox' ? { SANDBOX_ADMIN_TOKEN: sandboxAdminToken } : {}),
      ...(svc.name === 'vault' ? { TOKEN_MASTER_KEY_FILE: vaultMasterKeyFile } : {}),
      ...(svc.name === 'gateway' ? { ACCESS_TOKEN_PRIVATE_KEY_FILE: gatewayTokenKeyFile } : {}),
    };
    const log = createWriteStream(join(logDir, `${svc.name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const record = { ...svc, port, child, url: `http://127.0.0.1:${port}` };
    running.push(record);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      say(
        `${svc.name} exited unexpectedly (${signal ?? `code ${code}`}); see ${join(logDir, `${svc.name}.log`)}`,
      );
      void stopAll(1);
    });
    say(`[${index + 1}/${SERVICES.length}] started ${svc.name} on ${record.url}`);
  }

  say('waiting for every service to be ready…');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const svc of running) {
    for (;;) {
      const ok = await fetch(`${svc.url}/health/ready`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${svc.name} is not ready after ${READY_TIMEOUT_MS / 1000} s; see ${join(logDir, `${svc.name}.log`)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // Each service accepts each of its allowed callers: the keys are wired as services.json says.
  for (const svc of running.filter((s) => s.internalAuth)) {
    for (const caller of svc.callers) {
      const res = await fetch(`${svc.url}/internal/v1/whoami`, {
        headers: { authorization: `Bearer ${serviceToken(caller, svc.name)}` },
      });
      if (res.status !== 200)
        throw new Error(
          `${svc.name} refused a token from ${caller} (HTTP ${res.status}); internal auth is miswired`,
        );
    }
  }
  say('internal auth checked: every service accepts exactly the callers services.json names');

  const lines = [
    '',
    'wapi is up on the embedded default (local Redis + FerretDB + meta-sandbox standing in for Meta):',
    '',
    ...running.map(
      (s) => `  ${s.name.padEnd(15)} ${s.url}   (ready: ${s.url}/health/ready, metrics: ${s.url}/metrics)`,
    ),
    '',
    `  infrastructure  Redis ${infra.WAPI_REDIS_URL}   MongoDB (FerretDB) ${infra.WAPI_MONGO_URL}   AWS (moto) ${infra.WAPI_AWS_ENDPOINT_URL}`,
    `  logs            ${logDir}/<service>.log`,
    `  sandbox admin   Authorization: Bearer ${sandboxAdminToken}   (control API and ${running.find((s) => s.name === 'meta-sandbox')?.url}/_sandbox)`,
    '',
    'Press Ctrl-C to stop everything this command started.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
} catch (error) {
  say(`ERROR: ${error.message}`);
  await stopAll(1);
}
