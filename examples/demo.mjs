// The remoterun demo: 24 runs of a real function on the embedded default connection (localhost).
// Run it twice: the second time the Dataset is restored from its database and nothing is resubmitted.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Dataset } from "../dist/index.js";

const work = resolve(process.env.REMOTERUN_DEMO_DIR ?? "demo-output");
mkdirSync(work, { recursive: true });

/** Collatz: how many steps until n reaches 1, and the highest value on the way. */
function collatz({ n }) {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  let steps = 0;
  let peak = n;
  for (let x = n; x !== 1; steps++) {
    x = x % 2 === 0 ? x / 2 : 3 * x + 1;
    if (x > peak) peak = x;
  }
  return { n, steps, peak };
}

const ds = new Dataset(collatz, {
  name: "collatz-demo",
  dbDir: work,
  localDir: resolve(work, "local"),
  remoteDir: resolve(work, "remote"),
});

const inputs = [
  27,
  97,
  871,
  6171,
  77031,
  837799,
  1,
  2,
  3,
  7,
  9,
  19,
  25,
  55,
  73,
  231,
  703,
  1161,
  2223,
  2463,
  0,
  3711,
  6171 * 3,
  10971,
];
ds.appendRuns(inputs.map((n) => ({ n })));

const { submitted } = await ds.run();
if (submitted.length === 0) console.log("nothing to submit: every runner was restored from the database");
await ds.wait({ interval: 0.2, timeout: 60 });
await ds.fetchResults();

console.log("\nn          steps  peak");
ds.results.forEach((r, i) => {
  if (r instanceof Error) console.log(`${String(inputs[i]).padEnd(10)} failed: ${r.message}`);
  else if (r) console.log(`${String(r.n).padEnd(10)} ${String(r.steps).padStart(5)}  ${r.peak}`);
});
const failed = ds.errors.filter(Boolean).length;
console.log(`\n${ds.results.length - failed} succeeded, ${failed} failed; database: ${ds.dbFile}.json`);
console.log(`inspect it from the shell: node dist/cli/main.js status ${work}`);
await ds.close();
