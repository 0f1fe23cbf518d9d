import { describe, expect, it } from "vitest";
import { classifySshStderr, isTransient, stripStderr } from "./ssh-errors.js";
import { DEFAULT_IGNORE_STDERR } from "./ssh-options.js";

describe("classifySshStderr", () => {
  const cases: Array<[string, string | null]> = [
    ["ssh: connect to host 127.0.0.1 port 1: Connection refused", "refused"],
    ["ssh: connect to host 10.255.255.1 port 22: Connection timed out", "timeout"],
    ["Connection timed out during banner exchange", "timeout"],
    ["Timeout, server example.org not responding.", "timeout"],
    ["rmtest@127.0.0.1: Permission denied (publickey).", "auth"],
    ["Received disconnect from 1.2.3.4 port 22:2: Too many authentication failures", "auth"],
    [
      "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.",
      "host-key",
    ],
    ["@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @", "host-key"],
    ["ssh: Could not resolve hostname nope.invalid: Name or service not known", "unreachable"],
    ["ssh: connect to host 10.0.0.1 port 22: No route to host", "unreachable"],
    ["Connection to 127.0.0.1 closed by remote host.", "dropped"],
    ["client_loop: send disconnect: Broken pipe", "dropped"],
    ["kex_exchange_identification: read: Connection reset by peer", "dropped"],
    // not connection problems
    ['rsync: [sender] send_files failed to open "/x": Permission denied (13)', null],
    ["bash: line 1: foo: command not found", null],
    ["", null],
  ];
  for (const [stderr, reason] of cases) {
    it(`${JSON.stringify(stderr.slice(0, 50))} → ${reason}`, () =>
      expect(classifySshStderr(stderr)).toBe(reason));
  }

  it("retries only transient reasons", () => {
    expect(isTransient("refused")).toBe(true);
    expect(isTransient("dropped")).toBe(true);
    expect(isTransient("auth")).toBe(false);
    expect(isTransient("host-key")).toBe(false);
    expect(isTransient("unknown")).toBe(false);
  });
});

describe("stripStderr", () => {
  it("removes matching lines only and keeps everything else byte for byte", () => {
    const input =
      "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.\r\nreal  error \t\nWelcome!\nlast";
    expect(stripStderr(input, [...DEFAULT_IGNORE_STDERR, /^Welcome!$/])).toBe("real  error \t\nlast");
    expect(stripStderr("a\nb\n", [/^a$/])).toBe("b\n");
    expect(stripStderr("keep\n", [])).toBe("keep\n");
  });
});
