import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { useTestContext, waitFor } from '@wapi/testkit';
import { afterAll, describe, expect, it } from 'vitest';

// `./wapi up` itself, with WAPI_UP_PREPARED=1: `./wapi test` has installed and built
// everything already, and installing or rebuilding here would disturb the tests running
// beside this one. WAPI_NAMESPACE gives this platform its own key prefix and databases.
const root = join(import.meta.dirname, '..');
const ctx = useTestContext('up');
const SERVICES = ['compliance', 'gateway', 'message-sender', 'meta-sandbox', 'vault', 'webhook-ingest'];

/** The pids of the direct children of `pid` (from /proc). */
function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portAnswers = (port) =>
  new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Every process below `pid`. */
const descendantsOf = (pid) => childrenOf(pid).flatMap((child) => [child, ...descendantsOf(child)]);

let up;
afterAll(async () => {
  if (up?.exitCode === null) up.kill('SIGKILL');
  for (const name of SERVICES)
    await ctx.mongo.db(`${ctx.prefix}_${name.replaceAll('-', '_')}`).dropDatabase();
  rmSync(join(process.env.WAPI_INFRA_DIR ?? join(root, '.infra'), `demo-${ctx.prefix}.json`), {
    force: true,
  });
});

describe('./wapi up', () => {
  it('brings all six services to ready, seeds the demo workspace whose printed curl sends a message that reaches read, and leaves no process behind after SIGTERM', async () => {
    up = spawn('bash', [join(root, 'wapi'), 'up'], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', WAPI_UP_PREPARED: '1', WAPI_NAMESPACE: ctx.prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    up.stdout.on('data', (chunk) => {
      stdout += chunk.toString();
    });
    up.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
    });
    const exited = new Promise((resolve) => up.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not up after 90 s:\n${stderr}`)), 90_000);
      const check = () => {
        if (stdout.includes('Press Ctrl-C')) {
          clearTimeout(timer);
          resolve();
        }
      };
      up.stdout.on('data', check);
      exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`./wapi up exited before it was up:\n${stderr}`));
      });
    });

    const services = [...stdout.matchAll(/^ {2}([a-z-]+) +http:\/\/127\.0\.0\.1:(\d+) /gm)].map((m) => ({
      name: m[1],
      port: Number(m[2]),
    }));
    expect(services.map((s) => s.name).sort()).toEqual(SERVICES);
    for (const { name, port } of services) {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(res.status, name).toBe(200);
    }
    expect(stderr).toContain('internal auth checked');

    // The printed curl, run as printed, sends a template through the demo workspace's number;
    // the message goes accepted -> sent -> delivered -> read (the sandbox's default timings).
    const curl = /^curl -sS -X POST [^\n]*\\\n(?: {2}[^\n]*\\\n)* {2}-d '[^\n]*'$/m.exec(stdout)?.[0];
    expect(curl, stdout).toBeDefined();
    const accepted = JSON.parse(execFileSync('bash', ['-c', curl], { encoding: 'utf8' }));
    expect(accepted).toMatchObject({ status: 'accepted' });
    const apiKey = /^ {2}API key +(wapi_\w+)/m.exec(stdout)?.[1];
    const gateway = services.find((s) => s.name === 'gateway');
    const message = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${gateway.port}/api/v1/messages/${accepted.id}`, {
          headers: { authorization: `Bearer ${apiKey}` },
        });
        const body = await res.json();
        return body.status === 'read' ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `message ${accepted.id} to reach read` },
    );
    expect(message.history.map((h) => h.status)).toEqual(
      expect.arrayContaining(['sent', 'delivered', 'read']),
    );
    expect(stdout).toContain('/_sandbox#token=');
    expect(stdout).toContain('/api/v1/events');
    // bash (./wapi) -> node (up.mjs) -> the six services.
    const pids = descendantsOf(up.pid);
    expect(pids).toHaveLength(7);

    up.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(0);
    expect(stderr).toContain('all services stopped');
    expect(pids.filter(alive)).toEqual([]);
    for (const { name, port } of services) expect(await portAnswers(port), name).toBe(false);
  }, 150_000);
});
