/**
 * Durations for scheduler time limits. Input is seconds (number or numeric string), a unit string
 * ("1h30m", "1d2h", "45s", "2m"), or a clock ("01:30:00", "90:00" as MM:SS, Slurm's "1-02:00:00").
 * Output is HH:MM:SS with hours NOT wrapped at 24 ("1d2h" → "26:00:00"): every scheduler we target
 * (Slurm, PBS, SGE) accepts hours above 24, while "D-HH:MM:SS" is Slurm-only.
 */

const UNIT_SECONDS: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1 };

/** Parse a duration to whole seconds (fractions round up); undefined when the text is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim().toLowerCase();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text));
  const clock = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text);
  if (clock) {
    const [, days, hours, minutes, seconds] = clock;
    if (Number(seconds) >= 60 || (hours !== undefined && Number(minutes) >= 60)) return undefined;
    if (days !== undefined && hours === undefined) return undefined; // "1-30:00" is ambiguous
    return Number(days ?? 0) * 86400 + Number(hours ?? 0) * 3600 + Number(minutes) * 60 + Number(seconds);
  }
  const units =
    /^(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?$/.exec(
      text,
    );
  if (!units || units.slice(1).every((part) => part === undefined)) return undefined;
  const [, d, h, m, s] = units;
  const total =
    Number(d ?? 0) * UNIT_SECONDS.d +
    Number(h ?? 0) * UNIT_SECONDS.h +
    Number(m ?? 0) * UNIT_SECONDS.m +
    Number(s ?? 0) * UNIT_SECONDS.s;
  return Math.ceil(total);
}

/** Seconds → "HH:MM:SS" (hours may exceed 24 and have more than two digits). */
export function formatHMS(totalSeconds: number): string {
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
}

/** Seconds → whole minutes, rounded up (LSF's `-W` takes minutes). */
export function formatMinutes(totalSeconds: number): string {
  return String(Math.ceil(totalSeconds / 60));
}
