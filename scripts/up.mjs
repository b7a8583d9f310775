#!/usr/bin/env node
// Starts the six built services against the infrastructure in .infra/env (through the launcher
// the end-to-end suite uses, packages/e2e/src/platform.mjs), waits until each answers
// /health/ready and accepts exactly its allowed callers, seeds the demo workspace (a sandbox
// number connected, an approved template, an API key), prints the URLs, the API key and the
// curl that sends a first message, and on SIGINT/SIGTERM stops them all (SIGTERM, then SIGKILL
// after a grace period). Logs go to .infra/logs/<service>.log.
// Called by `./wapi up` after the infrastructure is up and the services are built.
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
// A relative import on purpose: the launcher is plain JavaScript in the e2e package, shared
// with the suite so that both start and wire the services the same way.
import { sandboxControl } from '../packages/e2e/src/api.mjs';
import { demoMetaApp, demoState, ensureDemoWorkspace, firstMessageCurl } from '../packages/e2e/src/demo.mjs';
import { readServiceTable, START_ORDER, startPlatform } from '../packages/e2e/src/platform.mjs';

const root = resolve(import.meta.dirname, '..');
const infraDir = process.env.WAPI_INFRA_DIR ?? join(root, '.infra');
const logDir = join(infraDir, 'logs');

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

const table = readServiceTable(root);
/** The service's usual port (services.json), its WAPI_<SERVICE>_PORT override, or a free one near it. */
async function choosePort(name) {
  const variable = `WAPI_${name.toUpperCase().replace(/-/g, '_')}_PORT`;
  if (process.env[variable]) return Number(process.env[variable]);
  const preferred = table[name].port;
  for (let port = preferred; port < preferred + 100; port += 10) {
    if (await portIsFree(port)) {
      if (port !== preferred) say(`${name}: port ${preferred} is in use; using ${port}`);
      return port;
    }
  }
  throw new Error(`${name}: no free port near ${preferred}; set ${variable}`);
}

// WAPI_NAMESPACE runs a second platform beside the first on the same infrastructure: its own
// Redis key prefix and databases (the up test uses it to stay out of a developer's way).
const namespace = process.env.WAPI_NAMESPACE;
if (namespace !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(namespace))
  throw new Error('WAPI_NAMESPACE must be 1-32 of [A-Za-z0-9_-]');
const infra = readInfraEnv();
mkdirSync(logDir, { recursive: true });
// The demo's secrets (sandbox app secret, verify token, the number's token, the demo account's
// password and API key) are kept like the other local keys, so the demo survives a restart.
const demoFile = join(infraDir, namespace ? `demo-${namespace}.json` : 'demo.json');
const demo = demoState(demoFile);

let platform;
let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  say('stopping the services…');
  await platform?.stop();
  say('all services stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  let index = 0;
  platform = await startPlatform({
    infra: { redisUrl: infra.WAPI_REDIS_URL, mongoUrl: infra.WAPI_MONGO_URL },
    ...(namespace ? { namespace } : {}),
    // Internal auth: one Ed25519 key pair per service, made by the generator docker-compose runs.
    keysDir: join(infraDir, 'keys'),
    // vault's first key-encryption key and gateway's token-signing key, kept (mode 0600) so that
    // secrets and logins of one run still open in the next; delete them only with the data.
    vaultMasterKeyFile: join(infraDir, 'vault-master-key'),
    gatewayTokenKeyFile: join(infraDir, 'gateway-access-token-key'),
    metaApp: demoMetaApp(demo),
    port: (name) => choosePort(name),
    log: (name) => createWriteStream(join(logDir, `${name}.log`), { flags: 'a' }),
    logLevel: process.env.LOG_LEVEL ?? 'info',
    ...(process.env.SANDBOX_ADMIN_TOKEN ? { sandboxAdminToken: process.env.SANDBOX_ADMIN_TOKEN } : {}),
    say: (msg) => say(msg.startsWith('started ') ? `[${++index}/${START_ORDER.length}] ${msg}` : msg),
    onUnexpectedExit: (svc, code, signal) => {
      say(
        `${svc.name} exited unexpectedly (${signal ?? `code ${code}`}); see ${join(logDir, `${svc.name}.log`)}`,
      );
      void stopAll(1);
    },
  });
  say(
    'every service is ready; internal auth checked: every service accepts exactly the callers services.json names',
  );

  const gatewayUrl = platform.url('gateway');
  const sandboxUrl = platform.url('meta-sandbox');
  say('seeding the demo workspace (sandbox number, approved template, API key)…');
  const workspace = await ensureDemoWorkspace({
    gatewayUrl,
    sandbox: sandboxControl(sandboxUrl, platform.sandboxAdminToken),
    webhookUrl: platform.webhookUrl,
    stateFile: demoFile,
  });

  const lines = [
    '',
    'wapi is up on the embedded default (local Redis + FerretDB + meta-sandbox standing in for Meta):',
    '',
    ...platform.services.map(
      (s) => `  ${s.name.padEnd(15)} ${s.url}   (ready: ${s.url}/health/ready, metrics: ${s.url}/metrics)`,
    ),
    '',
    `  infrastructure  Redis ${infra.WAPI_REDIS_URL}   MongoDB (FerretDB) ${infra.WAPI_MONGO_URL}   AWS (moto) ${infra.WAPI_AWS_ENDPOINT_URL}`,
    `  logs            ${logDir}/<service>.log`,
    `  sandbox admin   Authorization: Bearer ${platform.sandboxAdminToken}   (control API and ${sandboxUrl}/_sandbox)`,
    '',
    `Demo workspace ${workspace.workspaceId}: sandbox number +${workspace.displayPhoneNumber} connected, template`,
    `"${workspace.template}" approved${workspace.templatesFromApi ? '' : ' (at the sandbox; gateway has no template routes yet)'}, simulated customer ${workspace.customerPhone}.`,
    '',
    `  API key         ${workspace.apiKey}   (role manager; kept in ${demoFile})`,
    '',
    'Send a first message (a template to the simulated customer):',
    '',
    firstMessageCurl(gatewayUrl, workspace),
    '',
    'Watch it go sent -> delivered -> read:',
    `  the sandbox page   ${sandboxUrl}/_sandbox#token=${platform.sandboxAdminToken}`,
    `  live events        curl -N ${gatewayUrl}/api/v1/events -H 'Accept: text/event-stream' -H 'Authorization: Bearer ${workspace.apiKey}'`,
    `  the message        curl ${gatewayUrl}/api/v1/messages/<id> -H 'Authorization: Bearer ${workspace.apiKey}'`,
    'Then follow docs/walkthrough.md: the customer replies, you answer, STOP, the audit trail.',
    '',
    'Press Ctrl-C to stop everything this command started.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
} catch (error) {
  say(`ERROR: ${error.message}`);
  await stopAll(1);
}
