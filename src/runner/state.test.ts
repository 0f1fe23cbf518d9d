import { describe, expect, it } from "vitest";
import { Runner } from "./runner.js";
import { isAllowedTransition, RUNNER_STATES, type RunnerState } from "./state.js";

const runnerIn = (state: RunnerState) =>
  new Runner(
    { runArgs: {}, temporaryRunArgs: {} },
    { index: 0, name: "r", identity: "i", args: {}, runArgs: {}, state, stateTime: 0 },
    (t) => t,
  );

describe("runner state transitions", () => {
  it("admits every change the Dataset makes", () => {
    const legit: [RunnerState, RunnerState][] = [
      ["created", "staged"],
      ["staged", "transferred"],
      ["transferred", "submitted"],
      ["transferred", "created"], // a failed launch, or one that provably never happened
      ["transferred", "failed"], // a launch that started and left no end
      ["submitted", "started"],
      ["submitted", "completed"], // the run's own lines may skip started
      ["submitted", "failed"],
      ["started", "completed"],
      ["started", "failed"],
      ["completed", "satisfied"],
      ["completed", "failed"], // result missing or stale
      ["failed", "failed"], // error missing
      ["reset", "staged"],
      ["failed", "staged"],
      ["completed", "staged"],
      ["satisfied", "staged"],
      ["submitted", "staged"], // force resubmits in-flight runners
    ];
    for (const [from, to] of legit) expect(isAllowedTransition(from, to), `${from} -> ${to}`).toBe(true);
    for (const from of RUNNER_STATES) expect(isAllowedTransition(from, "reset")).toBe(true);
  });

  it("refuses impossible ones, and Runner.setState throws on them", () => {
    const impossible: [RunnerState, RunnerState][] = [
      ["created", "submitted"],
      ["created", "completed"],
      ["created", "satisfied"],
      ["staged", "submitted"],
      ["transferred", "completed"],
      ["satisfied", "completed"],
      ["satisfied", "failed"],
      ["failed", "completed"],
      ["completed", "started"],
      ["reset", "submitted"],
    ];
    for (const [from, to] of impossible) {
      expect(isAllowedTransition(from, to), `${from} -> ${to}`).toBe(false);
      const r = runnerIn(from);
      expect(() => r.setState(to)).toThrow(`cannot go from state ${from} to ${to}`);
      expect(r.state).toBe(from);
    }
    const r = runnerIn("created");
    r.setState("staged", 5);
    expect([r.state, r.stateTime]).toEqual(["staged", 5]);
  });
});
