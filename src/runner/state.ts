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
