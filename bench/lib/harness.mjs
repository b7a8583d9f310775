// What every service benchmark needs: the infrastructure's addresses, internal-auth keys, a free port, a built
// service started as a real process, and its readiness. One copy for every bench/*.mjs.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

/**
 * A service's internal-auth key pair in the `INTERNAL_AUTH_PRIVATE_KEY` / `INTERNAL_AUTH_PUBLIC_KEYS`
 * format (the raw 32 bytes, base64url), plus the private key object to sign tokens with.
 */
export function serviceKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64url'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64url'),
    keyObject: privateKey,
  };
}

/** `.infra/env` (or `$WAPI_INFRA_DIR/env`) as an object; exits 2 with what to do when absent. */
export function infraEnv() {
  const file = join(process.env.WAPI_INFRA_DIR ?? join(repoRoot, '.infra'), 'env');
  try {
    return Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => /^([A-Z0-9_]+)=(.*)$/.exec(l.trim()))
        .filter(Boolean)
        .map((m) => [m[1], m[2]]),
    );
  } catch {
    console.error(`cannot read ${file}: start the infrastructure first (bash infra/infra.sh start)`);
    process.exit(2);
  }
}

/**
 * Option `name` of `args` (parseArgs values) as a positive integer; exits 2 saying what to
 * pass when it is not one.
 */
export function positiveInt(args, name) {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${name}=${args[name]} is not a positive integer; e.g. --${name} 1000`);
    process.exit(2);
  }
  return n;
}

/** A TCP port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** `node file ...argv` with exactly `env` (plus PATH), its output collected. */
export function startProcess(file, argv, env) {
  const child = spawn(process.execPath, [file, ...argv], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (d) => {
    output += d;
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

/** Waits until `url` answers below 500 (at most 20 s); fails with the process's output. */
export async function waitReady(url, proc) {
  const deadline = Date.now() + 20_000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`exited before ready:\n${proc.output()}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
      last = `${res.status} ${await res.text()}`;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready within 20 s (last: ${last}):\n${proc.output()}`);
}

/**
 * Runs bench/http-load.mjs in its own process (so it shares no event loop with the server it
 * measures) and returns its figures: { requests, errors, rps, p50Ms, p99Ms, statuses }.
 * `options` as http-load.mjs takes them: { url, method, headers, body, concurrency,
 * ratePerSec, durationMs, warmupMs }.
 */
export function runHttpLoad(options) {
  return new Promise((resolve, reject) => {
    const proc = startProcess(join(repoRoot, 'bench', 'http-load.mjs'), [JSON.stringify(options)], {});
    proc.exited.then(({ code }) => {
      if (code !== 0) reject(new Error(`load generator failed (exit ${code}):\n${proc.output()}`));
      else resolve(JSON.parse(proc.output().trim().split('\n').at(-1)));
    });
  });
}

/** User + system CPU in a `/proc/<pid>/stat` line, in ms (100 Hz ticks). */
function cpuMsOfStat(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** User + system CPU a process has used so far, in ms (Linux /proc); null when gone. */
export function cpuMsOf(pid) {
  try {
    return cpuMsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** A process's resident memory now and at its peak (Linux /proc); zeros when it is gone. */
export function memoryOf(pid) {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {}
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    rssKb: kb('VmRSS'),
    rssMb: Math.round(kb('VmRSS') / 1024),
    peakRssMb: Math.round(kb('VmHWM') / 1024),
  };
}

/** The infrastructure's processes by name: Redis, and the store (FerretDB and its PostgreSQL). */
const INFRA_PROCESSES = { 'redis-server': 'redis', ferretdb: 'store', postgres: 'store' };

/**
 * Where the machine's CPU goes during a measurement: the infrastructure's processes (found in
 * /proc by name, so PostgreSQL backends that start meanwhile count too) and `pids`
 * ({ label: pid }). `sample()` takes a snapshot; `since(snapshot)` answers { label: CPU ms
 * used since it }. On a machine without /proc both are empty.
 */
export function cpuMeter(pids = {}) {
  const labelOf = new Map(Object.entries(pids).map(([label, pid]) => [String(pid), label]));
  const sample = () => {
    const snapshot = new Map();
    let entries = [];
    try {
      entries = readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e));
    } catch {}
    for (const pid of entries) {
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const label =
        labelOf.get(pid) ?? INFRA_PROCESSES[stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))];
      if (!label) continue;
      snapshot.set(pid, { label, ms: cpuMsOfStat(stat) });
    }
    return snapshot;
  };
  return {
    sample,
    since(earlier) {
      const used = {};
      for (const [pid, { label, ms }] of sample())
        used[label] = (used[label] ?? 0) + ms - (earlier.get(pid)?.ms ?? 0);
      return used;
    },
  };
}
