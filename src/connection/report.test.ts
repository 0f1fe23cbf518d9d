import { describe, expect, it } from "vitest";
import { runBash } from "./local.js";
import { parseRemoteNow, parseReport, reportScript } from "./report.js";

describe("testConnection report", () => {
  it("the script runs in bash and its answer parses (local node, local clock)", async () => {
    const t0 = Date.now();
    const r = await runBash(`echo 'banner noise'\n${reportScript(process.execPath)}`);
    const t1 = Date.now();
    const rep = parseReport(r.stdout, { host: "h", startedAt: t0, endedAt: t1, latencyMs: t1 - t0 });
    expect(rep.node).toEqual({ path: process.execPath, version: process.version });
    expect(Math.abs(rep.clockOffsetMs)).toBeLessThan(1000);
    expect(typeof rep.schedulers.sbatch).toBe("boolean");
  });

  it("a missing node command gives node: null", async () => {
    const r = await runBash(reportScript("/nonexistent/node"));
    expect(parseReport(r.stdout, { host: "h", startedAt: 0, endedAt: 0, latencyMs: 0 }).node).toBeNull();
  });

  it("a banner line is never taken for node, even one that looks tagged", () => {
    const timing = { host: "h", startedAt: 0, endedAt: 0, latencyMs: 0 };
    expect(parseReport("@@rr:node=Welcome to the cluster!\n", timing).node).toBeNull();
    expect(parseReport("@@rr:node=quota\t10 GB\n", timing).node).toBeNull();
    expect(parseReport("@@rr:node=/usr/bin/node\tv18.20.4\n", timing).node).toEqual({
      path: "/usr/bin/node",
      version: "v18.20.4",
    });
  });

  it("parses GNU and BSD date output", () => {
    expect(parseRemoteNow("1700000000123456789")).toBe(1700000000123);
    expect(parseRemoteNow("1700000000N")).toBe(1700000000000);
    expect(parseRemoteNow("")).toBeNull();
  });

  it("offset is remote time minus the local midpoint", () => {
    const rep = parseReport("@@rr:now=1700000000500000000\n@@rr:has=sbatch\n", {
      host: "h",
      startedAt: 1_700_000_000_000,
      endedAt: 1_700_000_000_200,
      latencyMs: 200,
    });
    expect(rep.clockOffsetMs).toBe(400);
    expect(rep.schedulers).toEqual({ sbatch: true, qsub: false, bsub: false });
  });
});
