/**
 * testConnection(): one remote script that reports the remote clock, the node found through the
 * configured node command and which scheduler commands exist; the caller times the round trip.
 * Every answer line is tagged `@@rr:` so that banners or rc-file chatter on stdout cannot confuse it.
 */
import type { ConnectionReport } from "./types.js";

export function reportScript(nodeCommand: string): string {
  const probe = `process.stdout.write(process.execPath + "\\t" + process.version)`;
  return [
    `printf '@@rr:now=%s\\n' "$(date +%s%N 2>/dev/null)"`,
    // the node command is a trusted, user-configured shell snippet (e.g. 'module load nodejs && node')
    `if rr_node=$( { ${nodeCommand} -e '${probe}'; } 2>/dev/null ) && [ -n "$rr_node" ]; then printf '@@rr:node=%s\\n' "$rr_node"; fi`,
    `for rr_c in sbatch qsub bsub; do if command -v "$rr_c" >/dev/null 2>&1; then printf '@@rr:has=%s\\n' "$rr_c"; fi; done`,
    "true",
    "",
  ].join("\n");
}

/** Remote wall clock in ms from `date +%s%N` (GNU) or a seconds-only fallback (BSD prints `%N` as `N`). */
export function parseRemoteNow(value: string): number | null {
  if (/^\d{10,}\d{9}$/.test(value)) return Number(BigInt(value) / 1_000_000n);
  const s = /^(\d+)N?$/.exec(value);
  return s ? Number(s[1]) * 1000 : null;
}

export function parseReport(
  stdout: string,
  timing: { host: string; startedAt: number; endedAt: number; latencyMs: number },
): ConnectionReport {
  const tagged = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    const m = /^@@rr:(\w+)=(.*)$/.exec(line);
    if (m) tagged.set(m[1], [...(tagged.get(m[1]) ?? []), m[2]]);
  }
  const nodeLine = tagged.get("node")?.[0];
  let node: ConnectionReport["node"] = null;
  // Only a well-formed answer counts: an absolute path, a tab, a version (never a banner line).
  const m = nodeLine === undefined ? null : /^(\/[^\t]*)\t(v\d+\.\d+\.\d+\S*)$/.exec(nodeLine);
  if (m) node = { path: m[1]!, version: m[2]! };
  const has = new Set(tagged.get("has") ?? []);
  const remoteNow = parseRemoteNow(tagged.get("now")?.[0] ?? "");
  // The remote clock was read somewhere inside the round trip: compare it with the midpoint.
  const mid = (timing.startedAt + timing.endedAt) / 2;
  return {
    ok: true,
    host: timing.host,
    latencyMs: timing.latencyMs,
    node,
    schedulers: { sbatch: has.has("sbatch"), qsub: has.has("qsub"), bsub: has.has("bsub") },
    clockOffsetMs: remoteNow === null ? Number.NaN : remoteNow - mid,
    shellOutput: null,
  };
}
