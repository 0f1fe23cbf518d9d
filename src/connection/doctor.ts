/**
 * diagnose(): what stands between a connection and a working Dataset, each finding with a status
 * (ok, warn, fail) and advice. One remote command gathers what the far side can tell (node, the
 * schedulers, its clock, rsync, remoteDir's folder and free space); the login shell's own output is
 * read from the same command; a small file then goes to remoteDir and back through the
 * connection's transport, and is removed.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectionError, InvalidArgumentError, RemoterunError } from "../shared/errors.js";
import { remoteHomePath } from "../shared/paths.js";
import { shellQuote } from "../shared/quote.js";
import { findCause } from "./causes.js";
import { parseReport, reportScript } from "./report.js";
import { SshConnection } from "./ssh.js";
import type { Connection } from "./types.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  /** Stable name: connection, shell-stdout, shell-stderr, rsync-local, rsync-remote, remote-dir, disk, transfer, node, schedulers, clock. */
  name: string;
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** What to do, for warn and fail. */
  advice?: string;
  /** Raw output behind the finding (a banner, stderr of a failure), when useful. */
  detail?: string;
}

export interface Diagnosis {
  host: string;
  kind: "local" | "ssh";
  /** No check failed (warnings allowed). */
  ok: boolean;
  checks: Check[];
}

export interface DiagnoseOptions {
  /** The folder runs would use on the far side (default: the remote home, or the working folder locally). */
  remoteDir?: string;
  /** Skip the test transfer (default: it runs when remoteDir can be written). */
  transfer?: boolean;
}

/** Free space below which the disk check fails, and below which it warns (KiB). */
const FAIL_KIB = 1024;
const WARN_KIB = 100 * 1024;
/** A clock further off than this (ms) is a warning: timestamps and liveness compare clocks. */
const CLOCK_WARN_MS = 5000;
const MIN_NODE = 18;

/** Run the diagnosis. Never throws for what it finds (a refused connection is a failed check). */
export async function diagnose(connection: Connection, options: DiagnoseOptions = {}): Promise<Diagnosis> {
  if (
    connection === null ||
    typeof connection !== "object" ||
    typeof (connection as Connection).exec !== "function"
  ) {
    throw new InvalidArgumentError("connection", connection, "a Connection (from connect())");
  }
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError("options", options, "an object { remoteDir?, transfer? }");
  }
  if (
    options.remoteDir !== undefined &&
    (typeof options.remoteDir !== "string" || options.remoteDir === "")
  ) {
    throw new InvalidArgumentError("options.remoteDir", options.remoteDir, "a non-empty path");
  }
  const ssh = connection.kind === "ssh";
  const dir =
    options.remoteDir === undefined
      ? "."
      : ssh
        ? remoteHomePath(options.remoteDir, "remoteDir")
        : options.remoteDir;
  const checks: Check[] = [];
  const done = (): Diagnosis => ({
    host: connection.label,
    kind: connection.kind,
    ok: !checks.some((c) => c.status === "fail"),
    checks,
  });

  // 1. Reach and log in: one command that reports everything the far side can tell.
  const startedAt = Date.now();
  const t0 = performance.now();
  let stdout: string;
  try {
    stdout = (await connection.exec(`${reportScript(connection.nodeCommand)}${probeScript(dir)}`)).stdout;
  } catch (e) {
    checks.push(connectionFailure(e));
    return done();
  }
  const latencyMs = performance.now() - t0;
  const report = parseReport(stdout, { host: connection.label, startedAt, endedAt: Date.now(), latencyMs });
  const tags = readTags(stdout);
  checks.push({
    name: "connection",
    status: "ok",
    summary: `${ssh ? "logged in to" : "ran a command on"} ${connection.label} in ${Math.round(latencyMs)} ms`,
  });

  // 2. The login shell's own output.
  if (connection instanceof SshConnection) {
    const shell = connection.shellOutput;
    if (shell && shell.stdout !== "") {
      checks.push({
        name: "shell-stdout",
        status: "warn",
        summary: `the remote login shell prints on stdout when it starts: ${firstLine(shell.stdout)}`,
        advice:
          "rsync cannot work through it (remoterun moves files with tar instead). Make the remote ~/.bashrc " +
          "(or the startup file of the login shell) print only in interactive shells: put " +
          "`[[ $- == *i* ]] || return` before its output",
        detail: shell.stdout,
      });
    } else {
      checks.push({
        name: "shell-stdout",
        status: "ok",
        summary: "the login shell prints nothing on stdout",
      });
    }
    if (shell && shell.stderr.trim() !== "") {
      checks.push({
        name: "shell-stderr",
        status: "warn",
        summary: `the remote login shell prints on stderr when it starts: ${firstLine(shell.stderr)}`,
        advice:
          "harmless to transfers, but it comes with the error output of every command; print it only in interactive shells",
        detail: shell.stderr,
      });
    } else {
      checks.push({
        name: "shell-stderr",
        status: "ok",
        summary: "the login shell prints nothing on stderr",
      });
    }

    // 3. rsync on both ends.
    const local = await localRsync();
    const remote = tags.get("rsync") ?? "";
    checks.push(
      local
        ? { name: "rsync-local", status: "ok", summary: `rsync here: ${local}` }
        : {
            name: "rsync-local",
            status: "warn",
            summary: "rsync is not installed here",
            advice: "install rsync here for faster transfers (files move with tar meanwhile)",
          },
    );
    checks.push(
      remote
        ? { name: "rsync-remote", status: "ok", summary: `rsync on ${connection.label}: ${remote}` }
        : {
            name: "rsync-remote",
            status: "warn",
            summary: `rsync is not on the PATH of ${connection.label}`,
            advice: "install rsync on the far side for faster transfers (files move with tar meanwhile)",
          },
    );
  }

  // 4. remoteDir: can it be written, and how much room is there.
  const base = tags.get("dir-base") ?? dir;
  const exists = tags.get("dir-exists") === "1";
  const writable = tags.get("dir-writable") === "1";
  const where = exists ? dir : `${dir} (to be created in ${base})`;
  checks.push(
    writable
      ? { name: "remote-dir", status: "ok", summary: `${where} can be written` }
      : {
          name: "remote-dir",
          status: "fail",
          summary: `${where} cannot be written by ${ssh ? "the ssh user" : "this user"} (permission denied)`,
          advice:
            "choose a remoteDir the user may write (e.g. under its home), or fix the folder's owner and mode",
        },
  );
  checks.push(diskCheck(tags.get("df"), base));

  // 5. A file there and back through the connection's own transport.
  // (into the folder itself when it exists, else into the existing folder it would be made in: the
  // diagnosis creates nothing that stays)
  if (writable && options.transfer !== false)
    checks.push(await transferCheck(connection, exists ? dir : base));

  // 6. node, schedulers, clock.
  checks.push(nodeCheck(report.node, connection.nodeCommand));
  const found = (["sbatch", "qsub", "bsub"] as const).filter((s) => report.schedulers[s]);
  checks.push({
    name: "schedulers",
    status: "ok",
    summary: found.length
      ? `found on the PATH: ${found.join(", ")}`
      : "no scheduler command (sbatch, qsub, bsub) on the PATH: runs go straight to the shell",
  });
  if (ssh) checks.push(clockCheck(report.clockOffsetMs));
  return done();
}

/** Lines the probe prints, tagged like the report's: `@@rr:key=value`. */
function probeScript(dir: string): string {
  return [
    `printf '@@rr:rsync=%s\\n' "$(rsync --version 2>/dev/null | head -n 1)"`,
    `rr_d=${shellQuote(dir)}`,
    `if [ -e "$rr_d" ]; then printf '@@rr:dir-exists=1\\n'; fi`,
    `rr_p=$rr_d; while [ ! -e "$rr_p" ]; do rr_p=$(dirname -- "$rr_p"); done`,
    `printf '@@rr:dir-base=%s\\n' "$rr_p"`,
    `if [ -d "$rr_p" ] && [ -w "$rr_p" ] && [ -x "$rr_p" ]; then printf '@@rr:dir-writable=1\\n'; fi`,
    `df -Pk -- "$rr_p" 2>/dev/null | awk 'NR==2 {print "@@rr:df=" $4 " " $2 " " $6}'`,
    "true",
    "",
  ].join("\n");
}

function readTags(stdout: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^@@rr:([\w-]+)=(.*)$/.exec(line);
    if (m && !tags.has(m[1]!)) tags.set(m[1]!, m[2]!);
  }
  return tags;
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const clean = line.replace(/[\x00-\x1f\x7f]/g, "").trim();
  return JSON.stringify(clean.length > 100 ? `${clean.slice(0, 97)}...` : clean);
}

function connectionFailure(e: unknown): Check {
  if (e instanceof ConnectionError) {
    return {
      name: "connection",
      status: "fail",
      summary: e.message,
      advice:
        e.advice ?? findCause(e.stderr)?.advice ?? "check host, port, user and key with: ssh -v HOST true",
      detail: e.stderr,
    };
  }
  const err = e as Error & { stderr?: string };
  return {
    name: "connection",
    status: "fail",
    summary: err instanceof RemoterunError ? err.message : String(err?.message ?? e),
    advice: findCause(err.stderr ?? "")?.advice ?? "run the connection's command by hand to see more",
    detail: err.stderr,
  };
}

function localRsync(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("rsync", ["--version"], { timeout: 10_000 }, (err, stdout) => {
      resolve(err ? null : (stdout.split("\n")[0] ?? "").trim() || null);
    });
  });
}

function diskCheck(df: string | undefined, base: string): Check {
  const [avail, size, mount] = (df ?? "").split(" ");
  const free = Number(avail);
  if (df === undefined || !Number.isFinite(free)) {
    return {
      name: "disk",
      status: "warn",
      summary: `free space in ${base} unknown (df gave nothing)`,
      advice: "check it by hand (df -h, quota)",
    };
  }
  const text = `${human(free)} free of ${human(Number(size))} on ${mount} (${base})`;
  if (free < FAIL_KIB)
    return {
      name: "disk",
      status: "fail",
      summary: `too little space to run: ${text}`,
      advice: "free space there (check df and quota) or choose a remoteDir on another file system",
    };
  if (free < WARN_KIB)
    return {
      name: "disk",
      status: "warn",
      summary: `little space left: ${text}`,
      advice: "results and logs may not fit: free space or choose another remoteDir",
    };
  return { name: "disk", status: "ok", summary: text };
}

function human(kib: number): string {
  if (!Number.isFinite(kib)) return "?";
  if (kib < 1024) return `${kib} KiB`;
  if (kib < 1024 * 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${(kib / 1024 / 1024).toFixed(1)} GiB`;
}

async function transferCheck(connection: Connection, dir: string): Promise<Check> {
  const name = `.remoterun-doctor-${randomBytes(6).toString("hex")}`;
  const remote = dir === "." ? name : `${dir.replace(/\/+$/, "")}/${name}`;
  const local = await mkdtemp(join(tmpdir(), "remoterun-doctor-"));
  const content = `remoterun doctor ${name}\n`;
  const via = () =>
    connection instanceof SshConnection
      ? connection.activeTransport === "rsync"
        ? "rsync"
        : "tar over ssh"
      : "cp";
  const before = via();
  try {
    await writeFile(join(local, "probe.txt"), content, { mode: 0o600 });
    await connection.push(local, remote, ["probe.txt"]);
    await connection.pull(remote, join(local, "back"), ["probe.txt"]);
    const back = await readFile(join(local, "back", "probe.txt"), "utf8").catch(() => "");
    if (back !== content) {
      return {
        name: "transfer",
        status: "fail",
        summary: `a test file pushed with ${via()} came back different`,
        advice: "check the remote file system and the transport",
      };
    }
    if (before === "rsync" && via() !== "rsync") {
      return {
        name: "transfer",
        status: "warn",
        summary: "rsync failed; a test file went there and back with tar over ssh instead",
        advice: "see the shell and rsync findings above to use rsync",
      };
    }
    return { name: "transfer", status: "ok", summary: `a test file went to ${dir} and back with ${via()}` };
  } catch (e) {
    const err = e as Error & { advice?: string; stderr?: string };
    return {
      name: "transfer",
      status: "fail",
      summary: err.message,
      advice: err.advice ?? "see the error's cause line",
      detail: err.stderr,
    };
  } finally {
    await connection.exec(`rm -rf -- ${shellQuote(remote)}`, { allowFailure: true }).catch(() => undefined);
    await rm(local, { recursive: true, force: true });
  }
}

function nodeCheck(node: { path: string; version: string } | null, command: string): Check {
  if (!node) {
    return {
      name: "node",
      status: "fail",
      summary: `no node found with the node command ${JSON.stringify(command)}`,
      advice: `function Datasets need Node >= ${MIN_NODE} on the far side (script Datasets do not): install it, or set the connection's node option (e.g. "module load nodejs && node")`,
    };
  }
  const major = Number(/^v(\d+)/.exec(node.version)?.[1]);
  if (!(major >= MIN_NODE)) {
    return {
      name: "node",
      status: "fail",
      summary: `node ${node.version} at ${node.path} is older than ${MIN_NODE}`,
      advice: `function Datasets need Node >= ${MIN_NODE} on the far side: point the node option at a newer one`,
    };
  }
  return { name: "node", status: "ok", summary: `node ${node.version} at ${node.path}` };
}

function clockCheck(offsetMs: number): Check {
  if (!Number.isFinite(offsetMs)) {
    return {
      name: "clock",
      status: "warn",
      summary: "the remote clock could not be read (date +%s%N)",
      advice: "timestamps of runs may be off",
    };
  }
  const s = (offsetMs / 1000).toFixed(1);
  if (Math.abs(offsetMs) > CLOCK_WARN_MS) {
    return {
      name: "clock",
      status: "warn",
      summary: `the remote clock is ${s} s ${offsetMs > 0 ? "ahead" : "behind"}`,
      advice: "run times and liveness compare clocks: ask for NTP on the far side (or here)",
    };
  }
  return {
    name: "clock",
    status: "ok",
    summary: `the remote clock is within ${Math.abs(Number(s))} s of this one`,
  };
}
