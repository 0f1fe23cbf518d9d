// Benchmark: N trivial runs end to end (append, run, wait, fetch) on localhost, and the cost of
// bulk appends. Prints one line per measurement; `npm run bench` builds first.
//   node bench/run.mjs [runs=1000] [repeats=3]
// With REMOTERUN_BENCH_SSH set to connect() options as JSON (e.g. '{"host":"127.0.0.1","port":2222,
// "user":"me","keyfile":"/path/key"}'), the runs go to that SSH server instead (remoteDir under its home).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, Dataset } from "../dist/index.js";

const sshOptions = process.env.REMOTERUN_BENCH_SSH ? JSON.parse(process.env.REMOTERUN_BENCH_SSH) : undefined;
const where = sshOptions ? `ssh ${sshOptions.host}` : "local";
const runs = Number(process.argv[2] ?? 1000);
const repeats = Number(process.argv[3] ?? 3);

// Scratch folders are removed only after every measurement: on a disk mounted with `discard`,
// deleting thousands of files slows the file creations that follow for a while.
const scratch = [];

async function endToEnd(n) {
  const tmp = mkdtempSync(join(tmpdir(), "remoterun-bench-"));
  scratch.push(tmp);
  {
    const connection = sshOptions ? connect(sshOptions) : undefined;
    if (connection) await connection.exec("true"); // the SSH handshake is not part of the measurement
    const t0 = performance.now();
    const ds = new Dataset(({ x }) => x + 1, {
      name: "bench",
      skip: false,
      verbose: 0,
      dbDir: tmp,
      localDir: join(tmp, "local"),
      remoteDir: connection ? `remoterun-bench-${process.pid}` : join(tmp, "remote"),
      ...(connection ? { connection } : {}),
    });
    ds.appendRuns(Array.from({ length: n }, (_, x) => ({ x })));
    const t1 = performance.now();
    await ds.run();
    const t2 = performance.now();
    await ds.wait({ interval: 0.05, timeout: 120 });
    const t3 = performance.now();
    await ds.fetchResults();
    const t4 = performance.now();
    const bad = ds.results.filter((r, i) => r !== i + 1).length;
    if (connection) {
      await ds.wipeRemote();
      await connection.close();
    }
    await ds.close();
    return { total: t4 - t0, append: t1 - t0, run: t2 - t1, wait: t3 - t2, fetch: t4 - t3, bad };
  }
}

const fmt = (ms) => `${ms.toFixed(0)} ms`;
const all = [];
for (let i = 0; i < repeats; i++) {
  const r = await endToEnd(runs);
  all.push(r);
  console.log(
    `${where} ${runs} runs: total ${fmt(r.total)} (append ${fmt(r.append)}, run ${fmt(r.run)}, wait ${fmt(r.wait)}, fetch ${fmt(r.fetch)}), wrong or missing results: ${r.bad}`,
  );
}
const best = Math.min(...all.map((r) => r.total));
const median = all.map((r) => r.total).sort((a, b) => a - b)[Math.floor(all.length / 2)];
console.log(
  `${where} ${runs} runs end to end: best ${fmt(best)}, median ${fmt(median)}, lost ${all.reduce((s, r) => s + r.bad, 0)}`,
);

// Bulk append cost: 100,000 runners must not take minutes.
{
  const tmp = mkdtempSync(join(tmpdir(), "remoterun-bench-"));
  const ds = new Dataset(({ x }) => x, { name: "append", skip: false, verbose: 0, dbDir: tmp });
  const t0 = performance.now();
  ds.appendRuns(Array.from({ length: 100_000 }, (_, x) => ({ x })));
  const t1 = performance.now();
  await ds.close();
  scratch.push(tmp);
  console.log(`appendRuns of 100000 runners: ${fmt(t1 - t0)}`);
}
for (const d of scratch) rmSync(d, { recursive: true, force: true });
