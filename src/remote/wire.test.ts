import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  batchDocument,
  claimLine,
  errorDocument,
  outputFields,
  parseLogLine,
  parseRecord,
  readBatch,
  resultDocument,
  stateLine,
  WIRE_VERSION,
  WireVersionError,
} from "./wire.mjs";

describe("wire records", () => {
  it("what the runtime writes, the driver parses back whole, whatever the key order", () => {
    const out = outputFields({ bytes: 3, text: "hi\n" }, { bytes: 100_000 });
    const r = parseRecord(resultDocument("tok", "runner-1", '{"a":1}', out));
    expect(r).toMatchObject({
      token: "tok",
      name: "runner-1",
      result: { a: 1 },
      out: "hi\n",
      errBytes: 100_000,
    });
    const e = parseRecord(errorDocument("tok", "runner-2", "Error: boom", ""));
    expect(e).toMatchObject({ token: "tok", name: "runner-2", stderr: "Error: boom" });
    expect(parseRecord('{"result":5,"name":"n","token":"t"}')).toMatchObject({
      token: "t",
      name: "n",
      result: 5,
    });
  });

  it("refuses records cut short, edited or of the wrong shape", () => {
    const good = resultDocument("tok", "runner-1", "42", "");
    for (const bad of [
      good.slice(0, -1),
      good.slice(0, 20),
      "",
      "null",
      "[1,2]",
      '{"token":"t","name":"n"}',
      '{"token":"t","name":"n","result":1,"stderr":"x"}',
      '{"token":"","name":"n","result":1}',
      '{"token":"t","name":3,"result":1}',
      '{"token":"t","name":"n","stderr":5}',
      '{"token":"t","name":"n","result":1,"out":7}',
      '{"token":"t","name":"n","result":1,"outBytes":-1}',
    ])
      expect(parseRecord(bad), bad).toBeUndefined();
  });

  it("state and exit lines round-trip; noise and torn lines are not lines", () => {
    expect(parseLogLine(stateLine("tok", "runner-0", "completed", 123).trimEnd())).toEqual({
      kind: "state",
      token: "tok",
      name: "runner-0",
      state: "completed",
      time: 123,
    });
    expect(parseLogLine("tok\t@process\t1/4\t137\t1700000000")).toEqual({
      kind: "exit",
      token: "tok",
      k: 1,
      p: 4,
      code: 137,
      time: 1_700_000_000_000,
    });
    for (const noise of [
      "",
      "tok\trunner-0\tbogus\t1",
      "tok\trunner-0\tcompleted",
      "tok\trunner-0\tfailed\tx",
      "tok\t@process\tx\t0\t1",
    ])
      expect(parseLogLine(noise), noise).toBeUndefined();
  });

  it("claim lines round-trip as ranges of batch indices", () => {
    const line = claimLine("tok", 1, 2, [7, 3, 4, 5, 9, 10], 42);
    expect(line).toBe("tok\t@claim\t1/2\t3-5,7,9-10\t42\n");
    expect(parseLogLine(line.trimEnd())).toEqual({
      kind: "claim",
      token: "tok",
      k: 1,
      p: 2,
      ranges: [
        [3, 5],
        [7, 7],
        [9, 10],
      ],
      time: 42,
    });
    for (const noise of ["tok\t@claim\t1/2\t\t42", "tok\t@claim\t1/2\t3-\t42", "tok\t@claim\tx\t3\t42"])
      expect(parseLogLine(noise), noise).toBeUndefined();
  });

  it("a batch document carries the wire version; another version is refused", () => {
    const doc = batchDocument({ token: "t", function: "function.mjs", runners: [] });
    expect(readBatch(doc).wire).toBe(WIRE_VERSION);
    expect(() => readBatch(JSON.stringify({ wire: WIRE_VERSION + 1, token: "t", runners: [] }))).toThrow(
      WireVersionError,
    );
    expect(() => readBatch(JSON.stringify({ token: "t", runners: [] }))).toThrow(/wire format/);
  });
});

describe("the runtime checks the wire version", () => {
  const work = mkdtempSync(join(tmpdir(), "rr-wire-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("fails every runner of a batch in another version, saying both versions", () => {
    const dir = join(work, "ds");
    mkdirSync(dir);
    for (const f of ["runtime.mjs", "worker.mjs", "outcome.mjs", "wire.mjs", "codec.mjs"])
      writeFileSync(join(dir, f), readFileSync(new URL(`./${f}`, import.meta.url)));
    writeFileSync(join(dir, "function.mjs"), "export default () => 1;\n");
    const batch = {
      wire: WIRE_VERSION + 1,
      token: "tok",
      function: "function.mjs",
      runners: [
        { name: "runner-0", args: {} },
        { name: "runner-1", args: {} },
      ],
    };
    writeFileSync(join(dir, "submit-tok.json"), JSON.stringify(batch));
    const r = spawnSync(process.execPath, ["runtime.mjs", "submit-tok.json", "0", "1"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    const states = readFileSync(join(dir, "state", "tok.0.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => parseLogLine(l));
    expect(states.filter((s) => s?.kind === "state" && s.state === "failed").length).toBe(2);
    const err = parseRecord(readFileSync(join(dir, "runner-1.error.json"), "utf8"));
    expect(err?.stderr).toMatch(
      new RegExp(`speaks wire format ${WIRE_VERSION} but the batch is in format ${WIRE_VERSION + 1}`),
    );
  });
});
