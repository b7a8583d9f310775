#!/usr/bin/env node
// Starts the six built services against the infrastructure in .infra/env, waits until
// each answers /health/ready, prints their URLs, and on SIGINT/SIGTERM stops them all
// (SIGTERM, then SIGKILL after a grace period). Logs go to .infra/logs/<service>.log.
// Called by `./wapi up` after the infrastructure is up and the services are built.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
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
const SERVICES = START_ORDER.map((name) => ({ name, port: table[name].port, mongo: table[name].database }));
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

const infra = readInfraEnv();
// A fresh internal-auth key per run: it lives only in these processes' memory.
const internalSecret = randomBytes(32).toString('hex');
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
      INTERNAL_AUTH_SECRET: internalSecret,
      ...(svc.mongo ? { MONGO_URL: infra.WAPI_MONGO_URL } : {}),
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
    '',
    'Press Ctrl-C to stop everything this command started.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
} catch (error) {
  say(`ERROR: ${error.message}`);
  await stopAll(1);
}
