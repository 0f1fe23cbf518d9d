import { join } from "node:path";
import { parseDuration } from "../computer/duration.js";
import { planJobs } from "../computer/index.js";
import { isInFlightState, type Runner } from "../runner/index.js";
import {
  CommandError,
  InvalidArgumentError,
  RemoteEnvironmentError,
  SchedulerError,
} from "../shared/errors.js";
import { type DryRunRecorder, dryRunDir, dryRunFiles, writeDryRun } from "./dryrun.js";
import { setAsideOldResult } from "./fetch.js";
import type { Follower, SubmissionHost } from "./internals.js";
import {
  applyLaunchLines,
  LAUNCH_REVOKED_EXIT,
  launchingTokens,
  launchScript,
  linesOf,
  NODE_MISSING_EXIT,
} from "./launch.js";
import { jobScriptFile, masterScript, newToken } from "./layout.js";
import { type Folder, mirrorPlans, stageJobs, type UpstreamSubmission, upstreamInfo } from "./plans.js";
import type { Placement } from "./records.js";
import { outputPlacement, runDirOf } from "./recv.js";
import { renderScripts, scriptMasterScript } from "./script.js";
import { bashMasterScript, detachMaster } from "./scripts.js";
import { type StagedRunner, Stager } from "./stage.js";

/**
 * Stage, transfer and launch these runners with one command per phase, then (or, without a
 * scheduler, before: this submission's master starts them) the matching runners downstream.
 *
 * Runners are saved `staged` before the transfer and `transferred` before the launch; the launch
 * is exactly-once per token (see launch.ts), so a process that finds `transferred` runners asks
 * the far side what became of them instead of submitting them again.
 *
 * With `dry` (a dry run), everything up to the transfer is done into a dry-run folder of its own
 * (see dryrun.ts) and recorded there: nothing is sent, launched or saved, no runner or placement
 * changes, and old results stay where they are.
 */
export async function submit<Args extends object, Result>(
  ds: SubmissionHost<Args, Result>,
  runners: Runner<Args, Result>[],
  upstream?: UpstreamSubmission,
  dry?: DryRunRecorder,
): Promise<void> {
  // A submission's files are named by its token, in one local and one remote folder per pair of
  // localDir and remoteDir: two pairs that share a folder on either side would overwrite each
  // other's files. Runners whose folders differ are therefore submitted apart, one token each
  // (a chain shares its upstream's token: it is refused below instead).
  if (!upstream && ds.downstream.length === 0) {
    const groups = new Map<string, Runner<Args, Result>[]>();
    for (const r of runners) {
      const key = folderKey(ds, r);
      const g = groups.get(key);
      if (g) g.push(r);
      else groups.set(key, [r]);
    }
    if (groups.size > 1) {
      for (const g of groups.values()) await submit(ds, g, undefined, dry);
      return;
    }
  }
  const token = upstream?.token ?? newToken();
  if (dry) return submitAs(token, ds, runners, upstream, dry);
  launchingTokens.add(token);
  try {
    await submitAs(token, ds, runners, upstream);
  } finally {
    if (!upstream) launchingTokens.delete(token);
  }
}

async function submitAs<Args extends object, Result>(
  token: string,
  ds: SubmissionHost<Args, Result>,
  runners: Runner<Args, Result>[],
  upstream: UpstreamSubmission | undefined,
  dry?: DryRunRecorder,
): Promise<void> {
  const folder = ds.folder;
  // A dry run leaves the Dataset's placements as they are: it records where runners would go apart.
  const placements: Map<string, Placement> = dry ? new Map() : ds.placements;
  // A dry run lists an upstream's submission before those of its downstream Datasets.
  const dryAt = dry?.submissions.length ?? 0;
  const scheduler = ds.scheduler;
  const superseded = new Set(runners.filter((r) => isInFlightState(r.state)).map((r) => r.name));

  // Runner i of each downstream Dataset follows runner i of this one.
  const positions = new Map(ds.runners.map((r, i) => [r.name, i]));
  const downstream = ds.downstream.map((follower) => ({
    follower,
    runners: runners.map((r) => follower.runners[positions.get(r.name)!]).filter((r) => r !== undefined),
  }));

  const folders = new Map<string, Folder<Args, Result>>();
  for (const r of runners) {
    const d = r.derivedRunArgs;
    const localRoot = ds.localRoot(d.localDir);
    const remoteRoot = ds.remoteRoot(d.remoteDir);
    const key = `${localRoot}\0${remoteRoot}`;
    if (!folders.has(key))
      folders.set(key, {
        localRoot,
        remoteRoot,
        runners: [],
        // A dry run stages into its own folder, laid out as the transfer would land in remoteDir.
        stager: new Stager(dry ? dryRunFiles(dryRunDir(localRoot, folder, token)) : localRoot, folder),
        body: "",
      });
    folders.get(key)!.runners.push(r);
  }
  for (const { follower } of downstream) checkCanFollow(follower, folders.values());
  if (folders.size > 1) {
    // Only chains get here with several pairs (see submit): they share one remoteDir.
    const [a, b] = [...folders.values()];
    throw new InvalidArgumentError(
      "localDir",
      b.localRoot,
      `one localDir for the runners of Datasets with dependencies (${a.localRoot} is used too): they share one submission`,
    );
  }

  // Plan (render every job script header) before anything is changed, so that a template error
  // leaves runners, results and files exactly as they were.
  if (scheduler) {
    for (const f of folders.values()) {
      f.plans = upstream?.jobs
        ? mirrorPlans(upstream, f.runners, positions, scheduler)
        : planJobs(
            f.runners.map((r) => ({ name: r.name, values: r.derivedRunArgs })),
            {
              computer: scheduler,
              runnersPerJob: (f.runners[0].derivedRunArgs.runnersPerJob as number | undefined) ?? 1,
            },
          );
    }
  }
  // A script Dataset's runners get their scripts rendered now: a missing value stops everything.
  const rendered = ds.script
    ? renderScripts(ds.script, runners as readonly { name: string; args: Record<string, unknown> }[])
    : undefined;
  if (!dry) for (const r of runners) setAsideOldResult(r, ds.placements.get(r.name), folder);

  // Without a scheduler the downstream runs are started by this submission's master script, so
  // they must be staged and sent first.
  if (!scheduler) {
    for (const { follower, runners: rs } of downstream)
      if (rs.length)
        await follower.submit(rs, upstreamInfo(token, runners, folders, ds.runners, folder), dry);
  }

  /** The submit commands (or the master's start) of each folder, for a dry run's record. */
  const commands = new Map<Folder<Args, Result>, string[]>();
  for (const f of folders.values()) {
    commands.set(f, []);
    const staged: StagedRunner[] = f.runners.map((r) => ({
      name: r.name,
      args: r.args,
      runDir: runDirOf(r, ds.name),
      ...(superseded.has(r.name) ? { supersedes: true } : {}),
      // Without a scheduler the runtime enforces the time limit; with one, the scheduler does (its
      // TIMEOUT is the job's state, and its reason becomes the runner's error).
      ...(!scheduler && r.derivedRunArgs.timeout !== undefined
        ? { timeout: parseDuration(r.derivedRunArgs.timeout) }
        : {}),
      ...(upstream ? { upstream: upstream.link(positions.get(r.name)!) } : {}),
    }));
    const asynchronous = f.runners.every((r) => r.derivedRunArgs.asynchronous !== false);
    if (scheduler && f.plans) {
      const groups = f.plans.flatMap((p) => p.runnerNames);
      if (rendered) f.stager.scripts(token, rendered, staged, groups, ds.scriptResult?.file);
      else f.stager.common(token, ds.functionSource, staged, { asynchronous, groups }, ds.codec);
      f.body = stageJobs(f, token, upstream, {
        scheduler,
        nodeCommand: ds.connection.nodeCommand,
        datasetName: ds.name,
        ...(rendered ? { script: { asynchronous } } : {}),
        commands: commands.get(f),
      });
      // Each runner's group (slot), planned job and array task: what a launch's job ids map onto.
      const where = new Map<string, { slot: number; job: number; task?: number }>();
      let slot = 0;
      f.plans.forEach((plan, job) => {
        plan.runnerNames.forEach((names, t) => {
          for (const n of names) where.set(n, { slot, job, ...(plan.array ? { task: t } : {}) });
          slot++;
        });
      });
      for (const r of f.runners)
        placements.set(r.name, {
          localRoot: f.localRoot,
          remoteRoot: f.remoteRoot,
          ...where.get(r.name)!,
        });
    } else {
      const then = downstream
        .filter((d) => d.runners.length)
        .map((d) => `../${d.follower.folder}/${masterScript(token)}`);
      const master = {
        token,
        runners: f.runners.length,
        asynchronous,
        maxProcesses: f.runners[0].derivedRunArgs.maxProcesses as number | undefined,
        datasetName: ds.name,
        then,
      };
      if (rendered) {
        f.stager.scripts(token, rendered, staged, undefined, ds.scriptResult?.file);
        f.stager.put(masterScript(token), scriptMasterScript(master), 0o700);
      } else {
        f.stager.common(token, ds.functionSource, staged, { asynchronous }, ds.codec);
        f.stager.put(
          masterScript(token),
          bashMasterScript({ ...master, nodeCommand: ds.connection.nodeCommand }),
          0o700,
        );
      }
      f.body = upstream ? "" : detachMaster(token);
      if (f.body) commands.get(f)!.push(f.body.split("\n").find((l) => l.includes(masterScript(token)))!);
      f.runners.forEach((r, slot) => {
        placements.set(r.name, {
          localRoot: f.localRoot,
          remoteRoot: f.remoteRoot,
          slot,
          // Started by the upstream's master: the upstream's launch record tells whether they were.
          ...(upstream ? { launch: upstream.launchDir } : {}),
          // The runtime processes (or script lanes) share the runners out as they go.
          pooled: true,
        });
      });
    }
    f.stager.extra(ds.extraFilesSend);
    // Where each runner works and which output files come back with its result.
    for (const r of f.runners) Object.assign(placements.get(r.name)!, outputPlacement(r, ds.name));
    if (dry) continue;
    for (const r of f.runners) {
      r.token = token;
      r.jobId = undefined;
      r.setState("staged");
    }
  }
  if (dry) return dryRunRecord(token, ds, folders, commands, runners, downstream, dry, dryAt);
  ds.saveRunners(runners);

  for (const f of folders.values()) {
    await ds.connection.push(f.localRoot, f.remoteRoot, f.stager.files);
    for (const r of f.runners) r.setState("transferred");
  }
  ds.saveRunners(runners);

  const launching = [...folders.values()].filter((f) => f.body !== "");
  // Downstream runners started by an upstream master stay `transferred` until its launch is known.
  if (launching.length === 0 && upstream && !scheduler) return;
  const followers = scheduler ? [] : downstream.filter((d) => d.runners.length);
  const script = launchScript(
    ds.connection.nodeCommand,
    launching.map((f) => ({ dir: `${f.remoteRoot}/${folder}`, body: f.body, token })),
    !scheduler && !ds.script,
  );
  const res = await ds.connection.exec(script, { allowFailure: true });
  if (res.exitCode === NODE_MISSING_EXIT) {
    // Nothing was launched: every runner can be submitted again.
    const now = Date.now();
    for (const r of runners) r.setState("created", now);
    ds.saveRunners(runners);
    for (const { follower, runners: rs } of followers) follower.started(rs, undefined);
    throw new RemoteEnvironmentError(
      `${ds.connection.label}: ${res.stderr.trim() || "node is not available"}; install Node.js >= 18 there or set the connection's node command`,
    );
  }
  launching.forEach((f, i) => {
    const jobs = applyLaunchLines(f.runners, ds.placements, linesOf(res.stdout, i), scheduler);
    f.plans?.forEach((plan, s) => {
      plan.jobId = jobs.get(s);
    });
  });
  if (res.exitCode !== 0) {
    // Jobs submitted before the failure run: their runners are in flight and must never be
    // submitted twice. The others go back to `created`, so a later run() submits them.
    const now = Date.now();
    for (const r of runners) r.setState(r.jobId !== undefined ? "submitted" : "created", now);
    ds.saveRunners(runners);
    const pid = runners.find((r) => r.jobId?.startsWith("pid:"))?.jobId;
    for (const { follower, runners: rs } of followers) follower.started(rs, pid);
    const went = runners.filter((r) => r.jobId !== undefined).length;
    const also = went ? ` (${went} runner(s) of jobs submitted before the failure are in flight)` : "";
    if (res.exitCode === LAUNCH_REVOKED_EXIT)
      throw new CommandError(
        "launch (its record was taken by another process, which found it abandoned)",
        res,
        "submission",
      );
    throw scheduler
      ? new SchedulerError(
          `submission to ${scheduler.name} failed: ${res.stderr.trim() || res.stdout.trim()}${also}`,
          res.stdout + res.stderr,
        )
      : new CommandError("launch", res, "submission");
  }
  const now = Date.now();
  for (const r of runners) r.setState("submitted", now);
  ds.saveRunners(runners);
  ds.log(
    1,
    `submitted ${runners.length} runner(s) of ${ds.name} to ${ds.connection.label}${scheduler ? ` through ${scheduler.name}` : ""}`,
  );
  const pid = runners.find((r) => r.jobId?.startsWith("pid:"))?.jobId;
  for (const { follower, runners: rs } of followers) follower.started(rs, pid);

  if (scheduler) {
    for (const { follower, runners: rs } of downstream)
      if (rs.length) await follower.submit(rs, upstreamInfo(token, runners, folders, ds.runners, folder));
  }
}

/**
 * A dry run's end: the launch script as it would be executed, the transfer's file list and the
 * commands, written beside the staged copies; then the downstream Datasets with a scheduler (their
 * jobs would depend on these jobs, whose ids stand in as `<Dataset>.job<s>`).
 */
async function dryRunRecord<Args extends object, Result>(
  token: string,
  ds: SubmissionHost<Args, Result>,
  folders: Map<string, Folder<Args, Result>>,
  commands: Map<Folder<Args, Result>, string[]>,
  runners: Runner<Args, Result>[],
  downstream: { follower: Follower; runners: Runner<Record<string, unknown>, unknown>[] }[],
  dry: DryRunRecorder,
  at: number,
): Promise<void> {
  const { folder, scheduler } = ds;
  let next = at;
  for (const f of folders.values()) {
    const dir = dryRunDir(f.localRoot, folder, token);
    const launch =
      f.body === ""
        ? undefined
        : launchScript(
            ds.connection.nodeCommand,
            [{ dir: `${f.remoteRoot}/${folder}`, body: f.body, token }],
            !scheduler && !ds.script,
          );
    const cmds = commands.get(f) ?? [];
    const written = writeDryRun(dir, {
      transferHeader: `${f.localRoot} -> ${ds.connection.label}:${f.remoteRoot} (dry run: copies in ${dryRunFiles(dir)})`,
      transfer: f.stager.files,
      commands: cmds,
      launchScript: launch,
    });
    const copy = (rel: string) => join(dryRunFiles(dir), rel);
    const jobScripts = (f.plans ?? []).map((_, s) => copy(`${folder}/${jobScriptFile(token, s)}`));
    const master = f.stager.files.find((p) => p === `${folder}/${masterScript(token)}`);
    dry.submissions.splice(next++, 0, {
      dataset: ds.name,
      token,
      dir,
      runners: f.runners.map((r) => r.name),
      connection: ds.connection.label,
      scheduler: scheduler?.name,
      transfer: {
        localDir: f.localRoot,
        remoteDir: f.remoteRoot,
        copies: dryRunFiles(dir),
        files: [...f.stager.files],
      },
      commands: cmds,
      launchScript: launch === undefined ? undefined : join(dir, "launch.sh"),
      jobScripts,
      masterScript: master === undefined ? undefined : copy(master),
      files: [...f.stager.files.map(copy), ...written],
    });
    // Stand-ins for the job ids the scheduler would give, for the downstream's dependencies.
    f.plans?.forEach((plan, s) => {
      plan.jobId = `${ds.name}.job${s}`;
    });
  }
  if (scheduler) {
    for (const { follower, runners: rs } of downstream)
      if (rs.length)
        await follower.submit(rs, upstreamInfo(token, runners, folders, ds.runners, folder), dry);
  }
}

/** A downstream Dataset must put its files beside its upstream's (results are read as ../<folder>/...). */
function folderKey<Args extends object, Result>(
  ds: SubmissionHost<Args, Result>,
  r: Runner<Args, Result>,
): string {
  const d = r.derivedRunArgs;
  return `${ds.localRoot(d.localDir)}\0${ds.remoteRoot(d.remoteDir)}`;
}

function checkCanFollow(follower: Follower, upFolders: Iterable<{ remoteRoot: string }>): void {
  for (const f of upFolders) {
    if (f.remoteRoot !== follower.remoteRoot) {
      throw new InvalidArgumentError(
        `remoteDir of downstream dataset ${follower.name}`,
        follower.remoteRoot,
        `the upstream's remoteDir ${f.remoteRoot}`,
      );
    }
  }
}
