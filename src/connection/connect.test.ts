import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../shared/errors.js";
import { connect, parseDestination } from "./connect.js";
import { LocalConnection } from "./local.js";
import { SshConnection } from "./ssh.js";

describe("connect()", () => {
  it("no options, 'localhost' and { kind: 'local' } give a LocalConnection", () => {
    expect(connect()).toBeInstanceOf(LocalConnection);
    expect(connect("localhost")).toBeInstanceOf(LocalConnection);
    const l = connect({ kind: "local", commandTimeout: 5000 });
    expect(l).toBeInstanceOf(LocalConnection);
    expect(l.toJSON()).toEqual({ kind: "local", transport: "cp" });
  });

  it("{ host } and 'user@host:port' give an SshConnection (nothing is launched yet)", async () => {
    const s = connect({ host: "example.org", user: "me", port: 2200 });
    expect(s).toBeInstanceOf(SshConnection);
    expect(s.label).toBe("me@example.org:2200");
    expect(s.stats.launches).toBe(0);
    expect((connect("me@example.org:2200") as SshConnection).options).toMatchObject({
      host: "example.org",
      user: "me",
      port: 2200,
    });
    await s.close();
    expect(s.stats.launches).toBe(0);
  });

  it("parses destinations, IPv6 included, and rejects garbage", () => {
    expect(parseDestination("h")).toEqual({ host: "h" });
    expect(parseDestination("u@[::1]:22")).toEqual({ host: "::1", user: "u", port: 22 });
    expect(() => connect("a b")).toThrow(InvalidArgumentError);
  });

  it("validates every option with an InvalidArgumentError naming the bad value", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ host: "h", port: 70000 }, /port.*70000/],
      [{ host: "h", keyfile: "/no/such/key" }, /keyfile.*no\/such\/key/],
      [{ host: "-oProxyCommand=evil" }, /host.*-oProxyCommand=evil/],
      [{ host: "h", user: "-u" }, /user.*-u/],
      [{ kind: "local", node: "" }, /node/],
      [{ kind: "local", bogus: 1 }, /bogus/],
      [{ kind: "cloud", host: "h" }, /kind.*cloud/],
      [42, /connection.*42/],
    ];
    for (const [options, message] of cases) {
      expect(() => connect(options as never)).toThrow(InvalidArgumentError);
      expect(() => connect(options as never)).toThrow(message);
    }
  });
});
