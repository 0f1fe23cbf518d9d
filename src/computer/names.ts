import { expressionNames } from "./expression.js";
import type { Template } from "./template.js";

/** The names inside `{...}` links of a value (a placeholder default or a run-arg value). */
export function linkedNames(value: unknown): string[] {
  if (typeof value !== "string" || !value.includes("{")) return [];
  const names: string[] = [];
  for (const m of value.matchAll(/\{([^{}]*)\}/g)) {
    try {
      names.push(...expressionNames(m[1]));
    } catch {
      /* a malformed link is reported when the template renders */
    }
  }
  return names;
}

/**
 * The run-arg names a template reads: its placeholders and the names their defaults link to
 * (`#partition:default={queue}#` reads `partition` and `queue`).
 */
export function templateNames(template: Template): Set<string> {
  const names = new Set<string>();
  for (const p of template.placeholders.values()) {
    names.add(p.name);
    for (const n of linkedNames(p.default)) names.add(n);
  }
  return names;
}
