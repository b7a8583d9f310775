// The worker thread of `PROCESSOR_THREAD=true` (src/processor-host.ts): processes the batches
// the app thread journaled, with connections of its own, and reports each settled batch.
import { parentPort, workerData } from 'node:worker_threads';
import {
  closeRedis,
  createInternalAuth,
  createLogger,
  createRedis,
  parseInternalKeys,
} from '@wapi/service-kit';
import { createMongoClient } from '@wapi/store';
import { type Config, SERVICE } from './config';
import { type JournalDoc, newCounters } from './processor';
import { buildProcessor, type HostMessage, type WorkerMessage } from './processor-host';

const port = parentPort;
if (!port) throw new Error('processor-worker runs as a worker thread of webhook-ingest, not on its own');
const { config } = workerData as { config: Config };
const log = createLogger(SERVICE, config.LOG_LEVEL).child({ thread: 'processor' });
const redis = createRedis(config.REDIS_URL, 'request', log, `${SERVICE}-processor`);
const mongo = createMongoClient(config.MONGO_URL, `wapi-${SERVICE}-processor`);
const counters = newCounters();
const { processor, closeQueues } = buildProcessor({
  config,
  redis,
  db: mongo.db(config.MONGO_DB),
  log,
  counters,
  auth: createInternalAuth({ service: SERVICE, keys: parseInternalKeys(SERVICE, config) }),
  onSettled: (ids) => {
    // Deltas since the last report: the app thread adds them to its own counters.
    const delta = {
      processed: counters.processed,
      items: counters.items,
      duplicates: counters.duplicates,
      quarantined: counters.quarantined,
    };
    counters.processed = 0;
    counters.items = 0;
    counters.duplicates = 0;
    counters.quarantined = {};
    port.postMessage({ type: 'settled', ids, counters: delta } satisfies WorkerMessage);
  },
});

// The `request` connection fails commands until it is connected: batches arriving before the
// first connection (right after a start) wait for it instead of failing into the re-drive.
// At most EARLY_MAX batches wait; older ones are handed back unprocessed (still in the journal,
// the re-drive takes them). After the first connection, a failure goes to the re-drive as in
// the app's own thread.
const EARLY_MAX = 100;
let connected = false;
const early: JournalDoc[][] = [];
redis.once('ready', () => {
  connected = true;
  for (const docs of early.splice(0)) processor.enqueue(docs);
});

port.on('message', (message: HostMessage) => {
  if (message.type === 'batch') {
    if (connected) processor.enqueue(message.docs);
    else {
      early.push(message.docs);
      const dropped = early.length > EARLY_MAX ? early.shift() : undefined;
      if (dropped)
        port.postMessage({
          type: 'settled',
          ids: dropped.map((d) => d._id),
          counters: { processed: 0, items: 0, duplicates: 0, quarantined: {} },
        } satisfies WorkerMessage);
    }
  } else if (message.type === 'close')
    void (async () => {
      await processor.idle();
      await closeQueues();
      await closeRedis(redis);
      await mongo.close();
      port.postMessage({ type: 'closed' } satisfies WorkerMessage);
    })();
});
