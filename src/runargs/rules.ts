/**
 * The skip/force rules of run() and appendRun(), as pure functions.
 * `force: true` is an inverted alias of `skip`: a run is skipped only when skip is true AND force is not.
 */
export function effectiveSkip(args: { skip?: unknown; force?: unknown }): boolean {
  return args.skip !== false && args.force !== true;
}

export type RunnerPhase = "new" | "in-flight" | "failed" | "succeeded";

export type SubmitDecision =
  | { submit: true; resubmit: boolean }
  | { submit: false; reason: "in-flight" | "failed" | "succeeded" };

/**
 * run(): never-submitted runners always go; in-flight and failed ones only when forced; succeeded
 * ones only when forced AND forceIgnoresSuccess (a safeguard against overwriting results).
 */
export function decideSubmit(
  phase: RunnerPhase,
  args: { skip?: unknown; force?: unknown; forceIgnoresSuccess?: unknown },
): SubmitDecision {
  if (phase === "new") return { submit: true, resubmit: false };
  const forced = !effectiveSkip(args);
  if (phase === "succeeded") {
    return forced && args.forceIgnoresSuccess === true
      ? { submit: true, resubmit: true }
      : { submit: false, reason: "succeeded" };
  }
  return forced ? { submit: true, resubmit: true } : { submit: false, reason: phase };
}

/** appendRun(): a duplicate is appended only when skip is false / force is true. */
export function decideAppend(
  duplicate: boolean,
  args: { skip?: unknown; force?: unknown },
): "append" | "skip" | "force" {
  if (!duplicate) return "append";
  return effectiveSkip(args) ? "skip" : "force";
}
