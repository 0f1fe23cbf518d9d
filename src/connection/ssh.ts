/**
 * SshConnection: runs scripts and moves files through the system OpenSSH client.
 *
 * - Every process shares one authenticated connection: `ControlMaster=auto`, `ControlPersist`, and a
 *   `ControlPath` inside a private 0700 folder made per connection. The first ssh becomes the master
 *   and daemonises itself; the others multiplex over its socket.
 * - `exec` sends the script on stdin to `bash -s`; argv carries only the fixed words `bash -s`, so
 *   any byte of the script arrives intact and the remote login shell parses nothing of it.
 * - The exit status decides: 0 is success whatever stderr says; 255 before the script started is a
 *   connection failure (classified from stderr, retried with exponential backoff when transient);
 *   255 after it started without its status coming back is a dropped connection (never re-run);
 *   anything else is the script's own status (CommandError). Marker lines on stderr (script.ts)
 *   tell these apart, so a script's own `exit 255` is not mistaken for a connection failure.
 *
 * stats.launches counts every process this object spawns: one per exec attempt (retries included),
 * the transport's processes (rsync: 1 per attempt; scp/tar: 2 per attempt, the local tar and ssh),
 * and the `ssh -O exit` of close() when a master socket exists. The control master is not a launch
 * of its own: it is the first ssh process, which forks itself into the background. Failures may add
 * one: a failed ProxyJump hop is read once more without the master (ssh hides its words), and a
 * transfer that rsync could not make (a login shell that prints on stdout, rsync missing) is made
 * again with tar, which the connection then keeps using.
 *
 * Every command reports what the login shell printed by itself before it (script.ts): output on
 * stdout there is what breaks rsync, so the first command that sees it switches transfers to tar.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { CommandError, ConnectionError, InvalidArgumentError, TransferError } from "../shared/errors.js";
import { findCause } from "./causes.js";
import { ControlDir } from "./control-dir.js";
import { checkRelativeFiles, remotePath } from "./paths.js";
import { type ProcessResult, type RunOptions, runProcess } from "./process.js";
import { parseReport, reportScript } from "./report.js";
import { rsyncTransport } from "./rsync.js";
import { scpTransport } from "./scp.js";
import { readEnvelope, wrapScript } from "./script.js";
import { classifySshStderr, isTransient, reasonMessage, stripStderr } from "./ssh-errors.js";
import {
  type ResolvedSshOptions,
  resolveSshOptions,
  type SshConnectionOptions,
  sshBaseArgs,
  sshLabel,
} from "./ssh-options.js";
import type { Transport, TransportContext } from "./transport.js";
import type {
  Connection,
  ConnectionReport,
  ConnectionSpec,
  ConnectionStats,
  ExecOptions,
  ExecResult,
} from "./types.js";

export type { SshConnectionOptions } from "./ssh-options.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * With ControlPersist, ssh sends a ProxyJump hop's stderr to /dev/null: a failed hop (refused, host
 * key, auth) shows only as the proxy peer "UNKNOWN port 65535" closing. Say so, and how to see why.
 */
function jumpHint(o: ResolvedSshOptions, message: string, stderr: string): string {
  if (!hiddenJumpFailure(o, stderr)) return message;
  const f = o.configFile ? ` -F ${o.configFile}` : "";
  return `${message}; the ProxyJump hop ${o.proxyJump} failed and ssh hides its reason while a control master persists (try: ssh${f} ${o.proxyJump} true)`;
}

function hiddenJumpFailure(o: ResolvedSshOptions, stderr: string): boolean {
  return o.proxyJump !== undefined && /closed by UNKNOWN port 65535/.test(stderr);
}

const NOISY_SHELL_FIX =
  "To use rsync, make the remote ~/.bashrc (or the startup file of the login shell, e.g. ~/.zshenv) " +
  "print only in interactive shells: put `[[ $- == *i* ]] || return` before its output.";

/** Hosts whose transfers fell back to tar in this process: warned about once. */
const warnedNoisy = new Set<string>();

/** What the login shell printed by itself, as testConnection() and diagnose() report it. */
export interface ShellOutput {
  /** Printed on stdout: breaks rsync, whose server that same shell starts. */
  stdout: string;
  /** Printed on stderr (module lines, warnings): harmless to transfers, mixed into error output. */
  stderr: string;
}

/** The first non-empty line of `text`, quoted and cut short, for messages. */
function quoteFirstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? text;
  const clean = line.replace(/[\x00-\x1f\x7f]/g, "").trim();
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77)}...` : clean);
}

export class SshConnection implements Connection {
  readonly kind = "ssh" as const;
  readonly label: string;
  readonly stats: ConnectionStats = { launches: 0, execs: 0, pushes: 0, pulls: 0 };
  readonly nodeCommand: string;
  /** Frozen, validated copy of the options given; the caller's object is never kept. */
  readonly options: ResolvedSshOptions;
  private readonly control = new ControlDir();
  private readonly transport: Transport;
  private firstContact: Promise<void> | null = null;
  private shell: ShellOutput | undefined;
  /** Why files move with tar instead of rsync on this connection (null: they do not). */
  private fallbackReason: string | null = null;

  constructor(options: SshConnectionOptions) {
    this.options = resolveSshOptions(options);
    this.label = sshLabel(this.options);
    this.nodeCommand = this.options.node;
    this.transport = this.options.transport === "scp" ? scpTransport : rsyncTransport;
  }

  get host(): string {
    return this.options.host;
  }

  /** ssh options shared by all processes of this connection (no destination, no command). */
  sshArgs(): string[] {
    return sshBaseArgs(this.options, this.control.socket);
  }

  /** Path of the control socket folder, or null before first use / after close(). */
  get controlDir(): string | null {
    return this.control.exists ? this.control.path : null;
  }

  /**
   * What the remote login shell printed by itself (startup files: motd, quota, module lines) in the
   * last command that ran; undefined before the first. Non-empty stdout breaks rsync: transfers of
   * this connection then go through tar (with a one-time warning, a process 'warning' event).
   */
  get shellOutput(): ShellOutput | undefined {
    return this.shell;
  }

  /** The transport that moves files now: "scp" (tar over ssh) once rsync was found unusable. */
  get activeTransport(): "rsync" | "scp" {
    return this.fallbackReason === null ? this.transport.name : "scp";
  }

  /**
   * The first contact of a fresh connection makes the control master; operations started meanwhile
   * wait until its socket appears (or the first contact ends) so that N parallel calls cost one
   * handshake instead of N.
   */
  private contact<T>(work: () => Promise<T>): Promise<T> {
    if (this.control.hasSocket) return work();
    if (this.firstContact) return this.firstContact.then(work);
    const p = work();
    const gate = new Promise<void>((resolve) => {
      const timer = setInterval(() => this.control.hasSocket && done(), 15);
      const done = () => {
        clearInterval(timer);
        if (this.firstContact === gate) this.firstContact = null;
        resolve();
      };
      p.then(done, done);
    });
    this.firstContact = gate;
    return p;
  }

  private launch(program: string, args: readonly string[], options?: RunOptions): Promise<ProcessResult> {
    this.stats.launches++;
    return runProcess(program, args, options);
  }

  async exec(script: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (typeof script !== "string") throw new InvalidArgumentError("script", script, "a string");
    this.stats.execs++;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeout;
    const input = wrapScript(script, options.cwd === undefined ? undefined : remotePath(options.cwd, "cwd"));
    const args = [...this.sshArgs(), "--", this.options.host, "bash -s"];
    this.control.setExitArgs([...this.sshArgs(), "-O", "exit", "--", this.options.host]);

    for (let attempt = 0; ; attempt++) {
      const r = await this.contact(() => this.launch("ssh", args, { input, timeoutMs }));
      if (r.spawnError) {
        throw new ConnectionError(this.label, "unknown", `cannot run ssh: ${r.spawnError.message}`);
      }
      const envelope = readEnvelope(r.stderr, r.stdout);
      const started = envelope.started;
      if (envelope.shell) this.noteShell(envelope.shell);
      let stderr = stripStderr(envelope.stderr, this.options.ignoreStderr);
      const result: ExecResult = { stdout: envelope.stdout, stderr, exitCode: r.exitCode ?? 128 };

      if (r.timedOut) {
        if (!started) {
          throw new ConnectionError(this.label, "timeout", `no session after ${timeoutMs} ms`, stderr);
        }
        throw new CommandError(
          script,
          { exitCode: null, signal: r.signal ?? "SIGTERM", stdout: envelope.stdout, stderr },
          `remote command on ${this.label} (timed out after ${timeoutMs} ms)`,
        );
      }
      if (r.exitCode === 0) return result;
      if (r.exitCode === 255) {
        if (!started && hiddenJumpFailure(this.options, stderr)) stderr = await this.jumpStderr(stderr);
        const reason = classifySshStderr(stderr);
        if (!started) {
          const why = reason ?? "unknown";
          if (isTransient(why) && attempt < this.options.maxRetries) {
            await sleep(this.options.retryDelayMs * 2 ** attempt);
            continue;
          }
          throw this.connectionError(why, stderr);
        }
        // Started but its status never came back: the connection died under it. Never re-run.
        if (envelope.status === null) throw this.connectionError(reason ?? "dropped", stderr);
      }
      if (options.allowFailure) return result;
      throw new CommandError(script, { ...result, signal: r.signal }, `remote command on ${this.label}`);
    }
  }

  /** A ConnectionError naming the line of `stderr` that explains it (the whole of it kept). */
  private connectionError(why: ConnectionError["reason"], stderr: string): ConnectionError {
    const cause = findCause(stderr);
    let message = reasonMessage(why, stderr);
    if (this.options.proxyJump && /\[ProxyJump hop\]/.test(stderr)) {
      message = `the ProxyJump hop ${this.options.proxyJump} failed: ${message}`;
    } else {
      message = jumpHint(this.options, message, stderr);
    }
    return new ConnectionError(this.label, why, message, stderr, {
      causeLine: cause?.line,
      advice: cause?.advice,
    });
  }

  /**
   * While a control master persists, ssh discards a ProxyJump hop's stderr: only "closed by UNKNOWN
   * port 65535" is left. Connect once more without the master (one more launch, on this failure
   * only) to read the hop's own words (an unknown host key, a refused port...); they are returned
   * before the original stderr, tagged so that the message can say it was the hop.
   */
  private async jumpStderr(stderr: string): Promise<string> {
    const args = [
      "-o",
      "ControlMaster=no",
      "-o",
      "ControlPath=none",
      ...this.sshArgs(),
      "--",
      this.options.host,
    ];
    const r = await this.launch("ssh", [...args, "true"], { timeoutMs: this.options.commandTimeout });
    const hop = stripStderr(r.stderr, this.options.ignoreStderr).trim();
    if (r.exitCode === 0 || hop === "" || !findCause(hop)) return stderr;
    return `[ProxyJump hop] ${this.options.proxyJump} (seen without the control master):\n${hop}\n${stderr}`;
  }

  /** Record what the login shell printed; warn once when it talks on stdout. */
  private noteShell(shell: ShellOutput): void {
    this.shell = {
      stdout: shell.stdout,
      stderr: stripStderr(shell.stderr, this.options.ignoreStderr),
    };
    if (shell.stdout !== "" && this.transport.name === "rsync") {
      this.useTar(
        `the remote login shell prints on stdout when it starts (${quoteFirstLine(shell.stdout)})`,
        NOISY_SHELL_FIX,
      );
    }
  }

  /**
   * From now on move files with tar over ssh (immune to output of the login shell, needs no rsync);
   * warn once per host and process (a process 'warning' event, code REMOTERUN_RSYNC_FALLBACK).
   */
  private useTar(why: string, fix: string): void {
    if (this.fallbackReason !== null) return;
    this.fallbackReason = why;
    if (warnedNoisy.has(this.label)) return;
    warnedNoisy.add(this.label);
    process.emitWarning(
      `${this.label}: ${why}, so rsync cannot be used: remoterun moves files with tar over ssh instead. ${fix}`,
      { type: "RemoterunWarning", code: "REMOTERUN_RSYNC_FALLBACK" },
    );
  }

  private context(): TransportContext {
    this.control.setExitArgs([...this.sshArgs(), "-O", "exit", "--", this.options.host]);
    return {
      sshArgs: this.sshArgs(),
      host: this.options.host,
      label: this.label,
      timeoutMs: this.options.commandTimeout,
      run: (program, args, options) => this.launch(program, args, options),
      tempFile: (prefix) => this.control.tempFile(prefix),
    };
  }

  /** Transfers are idempotent, so transient connection failures are retried whether or not bytes moved. */
  private async withRetries(work: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.contact(work);
      } catch (caught) {
        let e = caught;
        if (e instanceof ConnectionError && hiddenJumpFailure(this.options, e.stderr)) {
          const stderr = await this.jumpStderr(e.stderr);
          e = this.connectionError(classifySshStderr(stderr) ?? e.reason, stderr);
        }
        if (e instanceof ConnectionError && isTransient(e.reason) && attempt < this.options.maxRetries) {
          await sleep(this.options.retryDelayMs * 2 ** attempt);
          continue;
        }
        throw e;
      }
    }
  }

  async push(localRoot: string, remoteRoot: string, files: readonly string[]): Promise<void> {
    checkRelativeFiles(files);
    remotePath(remoteRoot, "remoteRoot");
    this.stats.pushes++;
    if (files.length === 0) return;
    await this.transfer((t, ctx) => t.push(ctx, localRoot, remoteRoot, files));
  }

  async pull(remoteRoot: string, localRoot: string, files: readonly string[]): Promise<void> {
    checkRelativeFiles(files);
    remotePath(remoteRoot, "remoteRoot");
    this.stats.pulls++;
    if (files.length === 0) {
      await mkdir(localRoot, { recursive: true, mode: 0o700 });
      return;
    }
    await this.transfer((t, ctx) => t.pull(ctx, remoteRoot, localRoot, files));
  }

  /**
   * One transfer with the active transport. rsync needs a clean remote shell and rsync on the far
   * side: when it fails for either reason, this connection moves files with tar from then on (the
   * same call is made again with it, with a one-time warning). Transfers are idempotent.
   */
  private async transfer(work: (t: Transport, ctx: TransportContext) => Promise<void>): Promise<void> {
    const ctx = this.context();
    const t = this.fallbackReason === null ? this.transport : scpTransport;
    try {
      await this.withRetries(() => work(t, ctx));
    } catch (e) {
      if (t !== rsyncTransport || !(e instanceof TransferError)) throw e;
      if (e.kind === "noisy-shell") {
        this.useTar(
          `the remote login shell prints on stdout when it starts (rsync: ${e.causeLine})`,
          NOISY_SHELL_FIX,
        );
      } else if (e.kind === "missing-program" && /\brsync\b/.test(e.causeLine ?? "")) {
        const here = e.cause !== undefined; // rsync itself could not start: it is missing here
        this.useTar(
          `rsync is missing ${here ? "on this machine" : "on the far side"} (${e.causeLine})`,
          `To use rsync, install it ${here ? "here" : "there"}, or set transport: "scp" to say tar is meant.`,
        );
      } else {
        throw e;
      }
      await this.withRetries(() => work(scpTransport, ctx));
    }
  }

  async testConnection(): Promise<ConnectionReport> {
    const startedAt = Date.now();
    const t0 = performance.now();
    const r = await this.exec(reportScript(this.nodeCommand));
    const latencyMs = performance.now() - t0;
    const report = parseReport(r.stdout, { host: this.label, startedAt, endedAt: Date.now(), latencyMs });
    const shell = this.shell;
    const noisy = shell !== undefined && (shell.stdout !== "" || shell.stderr.trim() !== "");
    return { ...report, shellOutput: noisy ? { ...shell } : null };
  }

  /** Stop the control master (`ssh -O exit`) and remove the private folder. Idempotent. */
  async close(): Promise<void> {
    if (!this.control.exists) return;
    if (this.control.hasSocket) {
      await this.launch("ssh", [...this.sshArgs(), "-O", "exit", "--", this.options.host], {
        timeoutMs: 5000,
      });
      // The master removes its socket as it exits; wait briefly so no process outlives close().
      for (let i = 0; i < 100 && existsSync(this.control.socket); i++) await sleep(20);
    }
    this.control.remove();
  }

  toJSON(): ConnectionSpec {
    const o = this.options;
    const spec: ConnectionSpec = { kind: "ssh", host: o.host, transport: o.transport };
    if (o.user !== undefined) spec.user = o.user;
    if (o.port !== undefined) spec.port = o.port;
    if (o.keyfile !== undefined) spec.keyfile = o.keyfile;
    if (o.proxyJump !== undefined) spec.proxyJump = o.proxyJump;
    if (o.configFile !== undefined) spec.configFile = o.configFile;
    if (o.knownHostsFile !== undefined) spec.knownHostsFile = o.knownHostsFile;
    if (o.strictHostKeyChecking !== true) spec.strictHostKeyChecking = o.strictHostKeyChecking;
    if (o.sshOptions.length) spec.sshOptions = [...o.sshOptions];
    spec.timeout = o.timeout;
    spec.maxRetries = o.maxRetries;
    if (o.node !== "node") spec.node = o.node;
    return spec;
  }
}
