/**
 * The yaml and v8 serialisers over a real sshd: the YAML library travels with the runtime, and a v8
 * downstream Dataset reads its YAML upstream's results.
 */
import { describe, expect, it } from "vitest";
import { Dataset } from "../src/index.js";
import { sshTestbed } from "./helpers/ssh.js";

const { ssh, dirs } = sshTestbed("rr-ser");
const POLL = { interval: 0.05, timeout: 60 };

describe("serialisers over SSH", () => {
  it("a yaml Dataset and its v8 downstream bring back what they were given", async () => {
    const connection = ssh();
    const where = dirs("chain");
    const up = new Dataset((a: Record<string, unknown>) => ({ ...a, seen: Object.hasOwn(a, "__proto__") }), {
      name: "sshyaml",
      serializer: "yaml",
      connection,
      verbose: 0,
      ...where,
    });
    const down = new Dataset(
      (a: { bytes: Uint8Array }, ctx: { upstream?: unknown }) => ({
        got: ctx.upstream,
        sum: a.bytes.reduce((s, b) => s + b, 0),
        re: /x/g,
      }),
      { name: "sshv8", serializer: "v8", connection, verbose: 0, ...where },
    );
    const args = JSON.parse('{"__proto__": {"k": 1}, "s": "日本語 \\ud800", "n": [-0, 1e300]}');
    args.when = new Date(7);
    up.appendRun(args);
    down.appendRun({ bytes: Buffer.from([1, 2, 250]) });
    up.setDownstream(down as never);
    await up.run();
    await up.wait(POLL);
    await down.wait(POLL);
    const [u] = await up.fetchResults();
    const [d] = await down.fetchResults();
    expect(u).toStrictEqual({ ...args, seen: true });
    expect(Object.hasOwn(u as object, "__proto__")).toBe(true);
    expect(d).toStrictEqual({ got: { ...args, seen: true }, sum: 253, re: /x/g });
    await up.close();
    await down.close();
  }, 90_000);
});
