import type { RunnerState } from "../runner/index.js";

export interface RunnerUpdate {
  state: RunnerState;
  time: number;
  /** Why a runner failed without writing its own error (its process died). */
  crash?: string;
}

/**
 * Read state lines (`token \t name \t state \t epoch-ms`, plus the master's
 * `token \t @process \t k/P \t exit-code \t epoch-s`) and work out the newest state of each runner of
 * the given submissions. Lines of other tokens are ignored: freshness comes from the token, never
 * from comparing clocks.
 */
export function parseStateLines(
  text: string,
  wanted: Map<string, { token: string; slot: number }>,
): Map<string, RunnerUpdate> {
  const latest = new Map<string, RunnerUpdate>();
  const exits = new Map<string, { p: number; codes: Map<number, number> }>();
  for (const line of text.split("\n")) {
    const f = line.split("\t");
    if (f.length < 4) continue;
    const [token, name, state] = f;
    if (name === "@process") {
      const [k, p] = state.split("/").map(Number);
      const e = exits.get(token) ?? { p, codes: new Map() };
      e.codes.set(k, Number(f[3]));
      exits.set(token, e);
      continue;
    }
    const w = wanted.get(name);
    if (!w || w.token !== token) continue;
    if (state !== "started" && state !== "completed" && state !== "failed") continue;
    const prev = latest.get(name);
    // A terminal line always wins over "started", whatever the order the lines were read in.
    if (prev && prev.state !== "started" && state === "started") continue;
    latest.set(name, { state: state as RunnerState, time: Number(f[3]) });
  }
  // A runner whose process ended without a terminal line for it has crashed with that process.
  for (const [name, w] of wanted) {
    const cur = latest.get(name);
    if (cur && cur.state !== "started") continue;
    const e = exits.get(w.token);
    if (!e) continue;
    const code = e.codes.get(w.slot % e.p);
    if (code === undefined) continue;
    latest.set(name, {
      state: "failed",
      time: Date.now(),
      crash: `runtime process exited with code ${code} before ${name} finished (see its submission log)`,
    });
  }
  return latest;
}
