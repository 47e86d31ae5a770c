// Queue baseline for Crier's benchmark: enqueue N no-op jobs in graphile-worker on the same
// database, then time a worker with the given concurrency draining them. Prints one JSON line.
import { makeWorkerUtils, run } from "graphile-worker";

const [connectionString, jobsArg, concurrencyArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const concurrency = Number(concurrencyArg);

const utils = await makeWorkerUtils({ connectionString });
await utils.migrate();
await utils.withPgClient((client) =>
  client.query(
    "select graphile_worker.add_job('noop', json_build_object('i', i)) from generate_series(1, $1) i",
    [jobs],
  ),
);
await utils.release();

let done = 0;
let finished;
const allDone = new Promise((resolve) => (finished = resolve));
const started = process.hrtime.bigint();
const runner = await run({
  connectionString,
  concurrency,
  noHandleSignals: true,
  pollInterval: 100,
  logger: undefined,
  taskList: { noop: async () => {} },
});
runner.events.on("job:success", () => {
  done += 1;
  if (done === jobs) finished();
});
await allDone;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await runner.stop();
console.log(JSON.stringify({ jobs, seconds, jobs_per_second: jobs / seconds }));
