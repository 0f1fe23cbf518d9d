/**
 * findCause() on outputs recorded from real failures (OpenSSH 9.2, rsync 3.x, GNU tar and
 * coreutils, bash 5.2; the sshd of test/harness): the line that explains each one wins over the
 * last line the failing program printed.
 */
import { describe, expect, it } from "vitest";
import { ConnectionError, TransferError } from "../shared/errors.js";
import { findCause, missingProgram } from "./causes.js";
import type { ProcessResult } from "./process.js";
import { transferFailure } from "./transport.js";

const RSYNC_12 = "rsync error: error in rsync protocol data stream (code 12) at io.c(232) [sender=3.2.7]";

const RECORDED: Array<[string, string, string, string]> = [
  [
    "unknown host, through rsync",
    [
      "ssh: Could not resolve hostname nonexistent.invalid: Name or service not known",
      "rsync: connection unexpectedly closed (0 bytes received so far) [sender]",
      "rsync error: unexplained error (code 255) at io.c(232) [sender=3.2.7]",
    ].join("\n"),
    "resolve",
    "ssh: Could not resolve hostname nonexistent.invalid: Name or service not known",
  ],
  [
    "remoteDir that may not be created (rsync --rsync-path mkdir)",
    [
      "mkdir: cannot create directory '/srv/forbidden/sub': Permission denied",
      "rsync: connection unexpectedly closed (0 bytes received so far) [sender]",
      RSYNC_12,
    ].join("\n"),
    "permission",
    "mkdir: cannot create directory '/srv/forbidden/sub': Permission denied",
  ],
  [
    "remoteDir with UTF-8 quotes from mkdir",
    "mkdir: cannot create directory ‘/scratch/x’: Permission denied\n" + RSYNC_12,
    "permission",
    "mkdir: cannot create directory ‘/scratch/x’: Permission denied",
  ],
  [
    "full remote disk (rsync code 11)",
    [
      'rsync: [receiver] write failed on "/mnt/tiny/d/big.bin": No space left on device (28)',
      "rsync error: error in file IO (code 11) at receiver.c(381) [receiver=3.2.7]",
    ].join("\n"),
    "no-space",
    'rsync: [receiver] write failed on "/mnt/tiny/d/big.bin": No space left on device (28)',
  ],
  [
    "full remote disk (tar over ssh)",
    "tar: ./big.bin: Wrote only 4608 of 10240 bytes\ntar: Exiting with failure status due to previous errors",
    "no-space",
    "tar: ./big.bin: Wrote only 4608 of 10240 bytes",
  ],
  [
    "quota",
    'rsync: [receiver] write failed on "/home/u/x": Disk quota exceeded (122)\nrsync error: error in file IO (code 11)',
    "no-space",
    'rsync: [receiver] write failed on "/home/u/x": Disk quota exceeded (122)',
  ],
  [
    "a login shell that prints on stdout, under rsync",
    [
      "module: gcc loaded",
      "protocol version mismatch -- is your shell clean?",
      "(see the rsync manpage for an explanation)",
      "rsync error: protocol incompatibility (code 2) at compat.c(625) [sender=3.5.0]",
    ].join("\n"),
    "noisy-shell",
    "protocol version mismatch -- is your shell clean?",
  ],
  [
    "rsync missing on the far side",
    [
      "bash: line 1: rsync: command not found",
      "rsync: connection unexpectedly closed (0 bytes received so far) [sender]",
      RSYNC_12,
    ].join("\n"),
    "missing-program",
    "bash: line 1: rsync: command not found",
  ],
  [
    "rsync missing, dash as login shell",
    `sh: 1: rsync: not found\n${RSYNC_12}`,
    "missing-program",
    "sh: 1: rsync: not found",
  ],
  [
    "unknown host key of a ProxyJump hop, read without the control master",
    [
      "No ED25519 host key is known for [10.213.0.2]:40123 and you have requested strict checking.",
      "Host key verification failed.",
      "Connection closed by UNKNOWN port 65535",
    ].join("\n"),
    "host-key",
    "No ED25519 host key is known for [10.213.0.2]:40123 and you have requested strict checking.",
  ],
  [
    "key refused",
    "rmtest@127.0.0.1: Permission denied (publickey).",
    "auth",
    "rmtest@127.0.0.1: Permission denied (publickey).",
  ],
  [
    "a pull from a folder that may not be read",
    [
      'rsync: [sender] change_dir "/root/private" failed: Permission denied (13)',
      "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1338) [Receiver=3.2.7]",
    ].join("\n"),
    "permission",
    'rsync: [sender] change_dir "/root/private" failed: Permission denied (13)',
  ],
  [
    "read-only file system",
    'rsync: [receiver] mkstemp "/ro/.a.txt.Xq1" failed: Read-only file system (30)\nrsync error: some files/attrs were not transferred (code 23)',
    "read-only",
    'rsync: [receiver] mkstemp "/ro/.a.txt.Xq1" failed: Read-only file system (30)',
  ],
];

describe("findCause", () => {
  for (const [what, stderr, kind, line] of RECORDED) {
    it(what, () => {
      const cause = findCause(stderr);
      expect(cause).toMatchObject({ kind, line });
      expect(cause!.advice.length).toBeGreaterThan(10);
    });
  }

  it("reads every output given, in any order", () => {
    expect(findCause("tar: Exiting with failure status", "No space left on device")?.kind).toBe("no-space");
  });

  it("knows nothing of lines it does not know", () => {
    expect(findCause(RSYNC_12)).toBeNull();
    expect(findCause("")).toBeNull();
    expect(findCause("Traceback (most recent call last):\nValueError: x")).toBeNull();
  });

  it("names the missing program", () => {
    expect(missingProgram("bash: line 1: rsync: command not found")).toBe("rsync");
    expect(missingProgram("sh: 1: tar: not found")).toBe("tar");
    expect(missingProgram("rsync error: x")).toBeNull();
  });
});

const failed = (stderr: string, exitCode = 12): ProcessResult => ({
  stdout: "",
  stderr,
  exitCode,
  signal: null,
  timedOut: false,
});

describe("transferFailure", () => {
  it("a TransferError naming the cause, the whole stderr kept", () => {
    const stderr = RECORDED[1]![1];
    const e = transferFailure("push", "rsync", "u@h", failed(stderr));
    expect(e).toBeInstanceOf(TransferError);
    const t = e as TransferError;
    expect(t.message).toBe(
      "push failed: permission denied: mkdir: cannot create directory '/srv/forbidden/sub': Permission denied (rsync exit code 12)",
    );
    expect(t.kind).toBe("permission");
    expect(t.causeLine).toBe("mkdir: cannot create directory '/srv/forbidden/sub': Permission denied");
    expect(t.stderr).toBe(stderr);
    expect(t.advice).toMatch(/remoteDir/);
  });

  it("a full disk is not a dropped connection, even when a pipe broke on the way", () => {
    const e = transferFailure(
      "push",
      "rsync",
      "u@h",
      failed(`rsync: [sender] write error: Broken pipe (32)\n${RECORDED[3]![1]}`, 11),
    );
    expect(e).toBeInstanceOf(TransferError);
    expect(e.message).toContain("No space left on device");
  });

  it("a ConnectionError when ssh could not connect, with ssh's words", () => {
    const e = transferFailure("pull", "rsync", "u@h", failed(RECORDED[0]![1], 255));
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as ConnectionError).reason).toBe("unreachable");
    expect(e.message).toContain("Could not resolve hostname nonexistent.invalid");
    expect(e.message).not.toContain("code 255");
  });

  it("the stderr of every process of the transfer is read and kept", () => {
    const ssh = failed("mkdir: cannot create directory '/x': Permission denied", 1);
    const tar = failed("tar: -: Cannot write: Broken pipe", 2);
    const e = transferFailure("push", "ssh tar", "u@h", ssh, [tar]) as TransferError;
    expect(e.kind).toBe("permission");
    expect(e.stderr).toContain("Cannot write: Broken pipe");
  });

  it("a program that cannot start: the spawn error is the cause", () => {
    const spawnError = Object.assign(new Error("spawn rsync ENOENT"), { code: "ENOENT" });
    const e = transferFailure("push", "rsync", "u@h", { ...failed("", 0), exitCode: null, spawnError });
    expect(e).toBeInstanceOf(TransferError);
    expect(e.cause).toBe(spawnError);
    expect(e.message).toContain("ENOENT");
  });
});
