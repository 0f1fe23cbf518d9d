/** Test helper: read a fixture, dropping the `#@ ` source-comment lines. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

export function fixture(path: string): string {
  return readFileSync(FIXTURES + path, "utf8")
    .split("\n")
    .filter((line) => !line.startsWith("#@"))
    .join("\n");
}
