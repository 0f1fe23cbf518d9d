/**
 * `remoterun init`: the example project it writes runs as it is, whether remoterun is installed in
 * the project (imported by name) or not (imported from the installation that wrote it).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, runNode } from "./helpers/cli.js";
import { ensureDist, ROOT } from "./helpers/dist.js";

let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "rr-cli-init-"));
  await ensureDist();
}, 120_000);
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const run = runNode;

describe("remoterun init", () => {
  it("writes a commented example that runs from anywhere, importing remoterun by path when it is not installed", async () => {
    const proj = join(root, "init", "example");
    const init = await cli(["init", relative(root, proj)], root);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`wrote ${join("init", "example", "run.mjs")}`);
    const script = readFileSync(join(proj, "run.mjs"), "utf8");
    expect(script).toContain(`from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/index.js")).href)}`);
    expect(script).toMatch(/^\/\/ /m);
    expect(statSync(join(proj, "run.mjs")).mode & 0o777).toBe(0o600);
    // It runs, started from another folder; its Dataset is then seen by the commands by name.
    const first = await run(join(proj, "run.mjs"), [], root);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^runner-0 {2}T=280 {2}p=1 {2}energy 3\.8$/m);
    expect(first.stdout).toMatch(
      /^runner-2 {2}T=280 {2}p=3 {2}failed: RangeError: pressure 3 is out of range$/m,
    );
    const listed = JSON.parse((await cli(["list", "--json"], proj)).stdout);
    expect(listed).toMatchObject([{ name: "example", total: 9, counts: { failed: 3, satisfied: 6 } }]);
    const errors = await cli(["errors", "example", "--json"], proj);
    expect(errors.code).toBe(1);
    expect(JSON.parse(errors.stdout)).toHaveLength(3);
    expect((await cli(["logs", "runner-0", "example", "--stdout"], proj)).stdout).toBe(
      "simulating T=280 p=1\n",
    );
    // Run again: it resumes, nothing runs twice (the results are the same, nothing submitted).
    const again = await run(join(proj, "run.mjs"), [], proj);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("runner-0  T=280  p=1  energy 3.8");
    expect(again.stdout).not.toMatch(/^submitted \d+ runner/m);
    expect(again.stdout).toContain("no runners to submit");
    // init does not overwrite, unless told to.
    const twice = await cli(["init", proj], root);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("exist(s) already");
    expect((await cli(["init", proj, "--force"], root)).code).toBe(0);
    // A folder that cannot be made (under a file): a usage error naming it, not an internal one.
    const under = await cli(["init", join(proj, "run.mjs", "x")], root);
    expect(under.code).toBe(2);
    expect(under.stderr).toContain("cannot write the example into");
  }, 60_000);

  it("imports remoterun by its package name when the project has it installed", async () => {
    const proj = join(root, "init-installed");
    mkdirSync(join(proj, "node_modules"), { recursive: true });
    symlinkSync(ROOT, join(proj, "node_modules", "remoterun"), "dir");
    const init = await cli(["init"], proj);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain("imported by its package name");
    expect(readFileSync(join(proj, "run.mjs"), "utf8")).toContain('import { Dataset } from "remoterun";');
    const r = await run(join(proj, "run.mjs"), [], proj);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^runner-8 {2}T=320 {2}p=3 {2}failed: /m);
  }, 60_000);
});
