import type { RunnerPhase } from "../runargs/index.js";

/** created → staged → transferred → submitted → started → completed | failed → satisfied, plus reset. */
export type RunnerState =
  | "created"
  | "staged"
  | "transferred"
  | "submitted"
  | "started"
  | "completed"
  | "failed"
  | "satisfied"
  | "reset";

export const RUNNER_STATES: readonly RunnerState[] = [
  "created",
  "staged",
  "transferred",
  "submitted",
  "started",
  "completed",
  "failed",
  "satisfied",
  "reset",
];

export function isFinishedState(s: RunnerState): boolean {
  return s === "completed" || s === "failed" || s === "satisfied";
}

export function isInFlightState(s: RunnerState): boolean {
  return s === "submitted" || s === "started";
}

/** The phase the skip/force rules look at. */
export function phaseOf(s: RunnerState): RunnerPhase {
  if (isInFlightState(s)) return "in-flight";
  if (s === "failed") return "failed";
  if (s === "completed" || s === "satisfied") return "succeeded";
  return "new";
}

/**
 * The state changes a runner may make (besides keeping its state, and `reset`, allowed from any).
 * `staged` starts a (re)submission: from any state, as force/retry rules allow; a failed launch sends
 * transferred runners back to `created`; the runs' own state lines may skip `started`; a result
 * that turns out missing or stale turns `completed` into `failed`; a fetched result, `satisfied`.
 */
export const STATE_TRANSITIONS: Readonly<Record<RunnerState, readonly RunnerState[]>> = {
  created: ["staged"],
  staged: ["staged", "transferred"],
  // created: its launch provably never happened; failed: it started and it cannot be told how far.
  transferred: ["staged", "submitted", "created", "failed"],
  submitted: ["staged", "started", "completed", "failed"],
  started: ["staged", "completed", "failed"],
  completed: ["staged", "satisfied", "failed"],
  failed: ["staged"],
  satisfied: ["staged"],
  reset: ["staged"],
};

export function isAllowedTransition(from: RunnerState, to: RunnerState): boolean {
  return from === to || to === "reset" || STATE_TRANSITIONS[from].includes(to);
}
