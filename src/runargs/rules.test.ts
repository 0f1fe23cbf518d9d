import { describe, expect, it } from "vitest";
import { decideAppend, decideSubmit, effectiveSkip, type RunnerPhase } from "./rules.js";

type Flags = { skip?: unknown; force?: unknown; forceIgnoresSuccess?: unknown };

/** Every combination of the three flags, each unset, true or false. */
const FLAG_VALUES = [undefined, true, false] as const;
const combos: Flags[] = [];
for (const skip of FLAG_VALUES)
  for (const force of FLAG_VALUES)
    for (const forceIgnoresSuccess of FLAG_VALUES) combos.push({ skip, force, forceIgnoresSuccess });

/** The rule as the documentation states it: force is an inverted alias of skip. */
const forcedPerDocs = (f: Flags) => f.skip === false || f.force === true;

describe("effectiveSkip", () => {
  it.each([
    [{}, true],
    [{ skip: true }, true],
    [{ force: false }, true],
    [{ skip: true, force: false }, true],
    [{ skip: false }, false],
    [{ force: true }, false],
    [{ skip: true, force: true }, false],
    [{ skip: false, force: false }, false],
  ])("%o -> skip %s", (args, expected) => {
    expect(effectiveSkip(args)).toBe(expected);
  });
});

describe("decideSubmit truth table", () => {
  it("a never-submitted runner is always submitted, as a first submission", () => {
    for (const f of combos) expect(decideSubmit("new", f)).toEqual({ submit: true, resubmit: false });
  });

  it.each(["in-flight", "failed"] as RunnerPhase[])(
    "%s runners are resubmitted exactly when forced (forceIgnoresSuccess irrelevant)",
    (phase) => {
      for (const f of combos) {
        const d = decideSubmit(phase, f);
        if (forcedPerDocs(f)) expect(d, JSON.stringify(f)).toEqual({ submit: true, resubmit: true });
        else expect(d, JSON.stringify(f)).toEqual({ submit: false, reason: phase });
      }
    },
  );

  it("succeeded runners need force AND forceIgnoresSuccess", () => {
    let resubmitted = 0;
    for (const f of combos) {
      const d = decideSubmit("succeeded", f);
      if (forcedPerDocs(f) && f.forceIgnoresSuccess === true) {
        resubmitted++;
        expect(d, JSON.stringify(f)).toEqual({ submit: true, resubmit: true });
      } else expect(d, JSON.stringify(f)).toEqual({ submit: false, reason: "succeeded" });
    }
    // skip:false or force:true (5 of the 9 skip/force pairs), with forceIgnoresSuccess true.
    expect(resubmitted).toBe(5);
  });

  it("forceIgnoresSuccess alone never resubmits anything already submitted", () => {
    for (const phase of ["in-flight", "failed", "succeeded"] as RunnerPhase[]) {
      expect(decideSubmit(phase, { forceIgnoresSuccess: true }).submit).toBe(false);
      expect(decideSubmit(phase, { skip: true, force: false, forceIgnoresSuccess: true }).submit).toBe(false);
    }
  });

  it("only the boolean true counts (truthy strings are not force)", () => {
    expect(decideSubmit("failed", { force: "yes" }).submit).toBe(false);
    expect(decideSubmit("failed", { skip: 0 }).submit).toBe(false);
    expect(decideSubmit("succeeded", { force: true, forceIgnoresSuccess: "yes" }).submit).toBe(false);
  });
});

describe("decideAppend truth table", () => {
  it("a new runner is always appended", () => {
    for (const f of combos) expect(decideAppend(false, f)).toBe("append");
  });
  it("a duplicate is skipped unless skip:false or force:true, then forced", () => {
    for (const f of combos)
      expect(decideAppend(true, f), JSON.stringify(f)).toBe(forcedPerDocs(f) ? "force" : "skip");
  });
  it("skip:false and force:true are the same thing", () => {
    expect(decideAppend(true, { skip: false })).toBe(decideAppend(true, { force: true }));
    expect(decideAppend(true, { skip: true })).toBe(decideAppend(true, { force: false }));
  });
});
