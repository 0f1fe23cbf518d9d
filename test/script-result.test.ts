/**
 * Script Datasets whose result is a file the script writes (`resultFile`, read as JSON, YAML or
 * text), real local runs; and the exit code in a failed script's message.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Dataset } from "../src/dataset/index.js";
import { InvalidArgumentError, RunnerFailedError } from "../src/shared/errors.js";

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function make(tag: string, script: string, extra: Record<string, unknown> = {}) {
  const tmp = mkdtempSync(join(tmpdir(), `rr-sresult-${tag}-`));
  scratch.push(tmp);
  const ds = new Dataset(undefined, {
    script,
    name: tag,
    skip: false,
    verbose: 0,
    dbDir: tmp,
    localDir: join(tmp, "local"),
    remoteDir: join(tmp, "remote"),
    ...extra,
  });
  return { ds, tmp };
}

async function runAll(ds: Dataset, temporary: Record<string, unknown> = {}) {
  await ds.run(temporary);
  await ds.wait({ interval: 0.1, timeout: 60 });
  return ds.fetchResults();
}

/** Writes #content# (verbatim) to #file# in its working folder, says something on stdout, exits #code#. */
const WRITER = "echo 'on stdout'\nprintf '%s' #content# > #file:default=out.json#\nexit #code:default=0#\n";

describe("resultFile", () => {
  it("JSON, YAML and text results, by extension or by resultFormat; stdout stays stdout", async () => {
    const cases = [
      { format: undefined, file: "out.json", content: '{"a": [1, 2.5, "x"], "b": null, "c": "ü ✓"}' },
      { format: undefined, file: "out.yaml", content: "a: 1\nb: [x, 'y z']\nc: { d: true }\n" },
      { format: undefined, file: "out.yml", content: "- 1\n- two\n" },
      { format: undefined, file: "out.txt", content: "line 1\nline 2\n" },
      { format: "json", file: "out.dat", content: "[1, 2, 3]" },
      { format: "text", file: "out.json", content: "{not json" },
      { format: "yaml", file: "out.json", content: "{a: 1}" },
      { format: undefined, file: "bin.yaml", content: "b: !!binary aGk=\n" },
    ] as const;
    const expected = [
      { a: [1, 2.5, "x"], b: null, c: "ü ✓" },
      { a: 1, b: ["x", "y z"], c: { d: true } },
      [1, "two"],
      "line 1\nline 2",
      [1, 2, 3],
      "{not json",
      { a: 1 },
      { b: new Uint8Array([104, 105]) },
    ];
    const datasets = cases.map((c, i) =>
      make(`fmt${i}`, WRITER, { resultFile: c.file, ...(c.format ? { resultFormat: c.format } : {}) }),
    );
    for (const [i, { ds }] of datasets.entries()) {
      ds.appendRun({ content: cases[i].content, file: cases[i].file });
      const got = await runAll(ds);
      expect(got).toEqual([expected[i]]);
      // YAML's !!binary comes back as a plain Uint8Array, as the serialisers give it (not a Buffer).
      if (cases[i].file === "bin.yaml")
        expect(Object.getPrototypeOf((got[0] as { b: unknown }).b)).toBe(Uint8Array.prototype);
      expect(ds.runners[0].stdout).toBe("on stdout\n");
      expect(ds.runners[0].state).toBe("satisfied");
      // a local copy of the result file, beside the outputs
      expect(
        readFileSync(
          join(ds.runners[0].derivedRunArgs.localDir as string, ds.folder, "runner-0.result"),
          "utf8",
        ),
      ).toBe(cases[i].content);
      await ds.close();
    }
  });

  it("each runner reads the file in its own runDir", async () => {
    const { ds } = make("rundirs", WRITER, { resultFile: "out.json" });
    for (let i = 0; i < 4; i++) ds.appendRun({ content: JSON.stringify({ i }) }, { runDir: `r${i}` });
    expect(await runAll(ds)).toEqual([0, 1, 2, 3].map((i) => ({ i })));
    await ds.close();
  });

  it("a missing or garbled result file is the runner's failure with a clear message", async () => {
    const { ds } = make("bad", "[ -n #content:optional=true# ] && printf '%s' #content# > #file#\nexit 0\n", {
      resultFile: "res.json",
    });
    ds.appendRun({ file: "elsewhere.json", content: "{}" }, { runDir: "a" }); // writes another file
    ds.appendRun({ file: "res.json", content: '{"a": ' }, { runDir: "b" }); // cut short
    ds.appendRun({ file: "res.json", content: "[1]" }, { runDir: "c" }); // fine
    const results = await runAll(ds);
    expect(results[0]).toBeInstanceOf(RunnerFailedError);
    expect((results[0] as RunnerFailedError).message).toBe(
      "the script exited with code 0 but wrote no result file res.json (in runDir a)",
    );
    expect((results[1] as RunnerFailedError).message).toMatch(
      /^the script exited with code 0 but its result file res\.json \(in runDir b\) is not valid JSON \(.+\)$/,
    );
    expect(results[2]).toEqual([1]);
    expect(ds.runners.map((r) => r.state)).toEqual(["failed", "failed", "satisfied"]);
    await ds.close();

    const { ds: yaml } = make("badyaml", WRITER, { resultFile: "out.yaml" });
    yaml.appendRun({ content: "a: [1, 2\nb: {", file: "out.yaml" });
    const [y] = await runAll(yaml);
    expect((y as RunnerFailedError).message).toMatch(
      /result file out\.yaml \(in remoteDir\) is not valid YAML/,
    );
    await yaml.close();

    // Result files nested past what the YAML parser's stack takes, flow and block style, one after
    // the other: each runner fails with a message; the driver does not abort.
    const { ds: deep } = make("deepyaml", WRITER, { resultFile: "out.yaml" });
    deep.appendRun(
      { content: `${"[".repeat(200_000)}${"]".repeat(200_000)}`, file: "out.yaml" },
      { runDir: "a" },
    );
    deep.appendRun({ content: `${"- ".repeat(3000)}x`, file: "out.yaml" }, { runDir: "b" });
    deep.appendRun({ content: `${"  ".repeat(200)}- x`, file: "out.yaml" }, { runDir: "c" });
    const d = await runAll(deep);
    for (const r of d.slice(0, 2))
      expect((r as RunnerFailedError).message).toMatch(
        /is not valid YAML \(YAML nested deeper than 500 levels/,
      );
    expect(d[2]).toEqual(["x"]);
    await deep.close();
  });

  it("a result file left by an earlier run is never taken for a later one", async () => {
    // the first run writes its result file, the second (forced) run of the same runner does not
    const script = "[ -e #marker# ] && exit 0\ntouch #marker#\necho '[1]' > out.json\n";
    const { ds, tmp } = make("stale", script, { resultFile: "out.json" });
    ds.appendRun({ marker: join(tmp, "marker") });
    expect(await runAll(ds)).toEqual([[1]]);
    const again = await runAll(ds, { force: true, forceIgnoresSuccess: true });
    expect((again[0] as RunnerFailedError).message).toMatch(/wrote no result file out\.json/);
    await ds.close();
  });

  it("a script that exits non-zero fails with its exit code, whatever its result file holds", async () => {
    const { ds } = make("exit", `${WRITER.replace("exit", "echo 'went wrong' >&2\nexit")}`, {
      resultFile: "out.json",
    });
    ds.appendRun({ content: "[1]", code: 3 });
    const [e] = await runAll(ds);
    expect((e as RunnerFailedError).message).toBe("exited with code 3: went wrong");
    expect((e as RunnerFailedError).fullError).toBe("went wrong\nexited with code 3: went wrong");
    await ds.close();
  });

  it("resultFile and resultFormat are checked", () => {
    const tmp = mkdtempSync(join(tmpdir(), "rr-sresult-opts-"));
    scratch.push(tmp);
    const opts = { dbDir: tmp, verbose: 0, skip: false, script: "echo hi" };
    const bad: [Record<string, unknown>, string][] = [
      [{ resultFile: "/abs/out.json" }, "resultFile"],
      [{ resultFile: "~/out.json" }, "resultFile"],
      [{ resultFile: "../victim.txt" }, "resultFile"],
      [{ resultFile: "a/../../etc/hostname" }, "resultFile"],
      [{ resultFile: "" }, "resultFile"],
      [{ resultFile: "a\nb" }, "resultFile"],
      [{ resultFile: 3 }, "resultFile"],
      [{ resultFile: "out.xml", resultFormat: "xml" }, "resultFormat"],
      [{ resultFormat: "json" }, "resultFormat"],
    ];
    for (const [extra, word] of bad) {
      expect(() => new Dataset(undefined, { ...opts, ...extra })).toThrow(InvalidArgumentError);
      expect(() => new Dataset(undefined, { ...opts, ...extra })).toThrow(word);
    }
    const { script: _s, ...fnOpts } = opts;
    expect(
      () => new Dataset((a: Record<string, unknown>) => a, { ...fnOpts, resultFile: "out.json" }),
    ).toThrow(/no resultFile for a function Dataset/);
  });

  it("is part of the identity and is restored by Dataset.open()", async () => {
    const { ds, tmp } = make("ident", WRITER, { resultFile: "out.json" });
    const plain = new Dataset(undefined, { script: WRITER, name: "ident", dbDir: tmp, verbose: 0 });
    const asText = new Dataset(undefined, {
      script: WRITER,
      name: "ident",
      dbDir: tmp,
      verbose: 0,
      resultFile: "out.json",
      resultFormat: "text",
    });
    const same = new Dataset(undefined, {
      script: WRITER,
      name: "ident2",
      dbDir: tmp,
      verbose: 0,
      resultFile: "out.json",
      resultFormat: "json",
    });
    expect(new Set([ds.identity, plain.identity, asText.identity]).size).toBe(3);
    await Promise.all([plain.close(), asText.close(), same.close()]);
    ds.appendRun({ content: '{"x": 1}' });
    expect(await runAll(ds)).toEqual([{ x: 1 }]);
    await ds.close();
    const again = Dataset.open(ds.dbFile, { verbose: 0 });
    expect(again.identity).toBe(ds.identity);
    expect(again.scriptResult).toEqual({ file: "out.json", format: "json" });
    again.appendRun({ content: '{"x": 2}' });
    expect(await runAll(again)).toEqual([{ x: 1 }, { x: 2 }]);
    await again.close();
  });
});
