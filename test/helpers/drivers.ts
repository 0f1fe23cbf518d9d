/**
 * A user's driver script, three ways: TypeScript run by tsx, TypeScript compiled by tsc and run by
 * node, and a plain .mjs. Each ships a function with an inner helper, a top-level helper, an
 * imported local module and an npm package, inline and as a { module, export }, and prints the
 * results as one JSON line.
 */
import { join } from "node:path";
import { ROOT } from "./dist.js";
import type { Project } from "./project.js";

/** What every driver prints for x = 1, 2, 3 (for both of its Datasets). */
export const EXPECTED = ["<0007>", "<0013>", "<0019>"];

const SCALE_TS = "export function scale(x: number): number {\n  return x * 3;\n}\n";
const SCALE_JS = "export function scale(x) {\n  return x * 3;\n}\n";

const WORK_TS = `import padLeft from "pad-left";
import { scale } from "./scale.js";

const tag = (s: string): string => \`<\${s}>\`;

export async function work({ x }: { x: number }): Promise<string> {
  const inner = (v: number): number => v + 1;
  return tag(padLeft(String(inner(scale(x) * 2)), 4));
}
`;
const WORK_JS = WORK_TS.replace(": string): string", ")")
  .replace("{ x }: { x: number }): Promise<string>", "{ x })")
  .replace("(v: number): number", "(v)");

const DRIVER_TS = `import padLeft from "pad-left";
import { Dataset } from "remoterun";
import { scale } from "./lib/scale.js";

function twice(n: number): number {
  return n * 2;
}

async function work({ x }: { x: number }): Promise<string> {
  // an inner helper, a top-level function, an imported module and an npm package
  const inner = (v: number): number => v + 1;
  function tag(s: string): string {
    return \`<\${s}>\`;
  }
  return tag(padLeft(String(inner(twice(scale(x)))), 4));
}

const config = JSON.parse(process.argv[2] ?? "{}");
const out: Record<string, unknown> = {};
const datasets = {
  inline: new Dataset(work, { ...config.options, name: "inline" }),
  module: new Dataset<{ x: number }, string>({ module: config.module, export: "work" }, { ...config.options, name: "module" }),
};
for (const [key, ds] of Object.entries(datasets)) {
  ds.appendRuns([{ x: 1 }, { x: 2 }, { x: 3 }]);
  await ds.run();
  await ds.wait({ interval: 0.1, timeout: 60 });
  await ds.fetchResults();
  out[key] = ds.results.map((r) => (r instanceof Error ? r.message : r));
  await ds.close();
}
console.log(JSON.stringify(out));
`;

const DRIVER_JS = DRIVER_TS.replace("(n: number): number", "(n)")
  .replace("{ x }: { x: number }): Promise<string>", "{ x })")
  .replace("(v: number): number", "(v)")
  .replace("(s: string): string", "(s)")
  .replace(": Record<string, unknown> = {}", " = {}")
  .replace("new Dataset<{ x: number }, string>(", "new Dataset(");

/** The same driver compiled to CommonJS (a package without "type": "module"): remoterun comes by import(). */
const DRIVER_CJS_TS = (() => {
  const [head, body] = DRIVER_TS.replace('import { Dataset } from "remoterun";\n', "").split(
    "const config =",
  );
  return `${head}async function main(): Promise<void> {
  const { Dataset } = await import("remoterun");
  const config =${body.replace(/\n/g, "\n  ")}}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
`;
})();

export type DriverKind = "tsx" | "tsc" | "tsc-cjs" | "mjs";

/** Write the driver of `kind` into the project; returns the command that runs it and its module. */
export async function writeDriver(
  project: Project,
  kind: DriverKind,
): Promise<{ command: string; args: string[]; module: string }> {
  if (kind === "mjs") {
    project.write("lib/scale.mjs", SCALE_JS);
    project.write("lib/work.mjs", WORK_JS.replace("./scale.js", "./scale.mjs"));
    project.write("drive.mjs", DRIVER_JS.replace("./lib/scale.js", "./lib/scale.mjs"));
    return { command: process.execPath, args: ["drive.mjs"], module: join(project.dir, "lib/work.mjs") };
  }
  project.write("lib/scale.ts", SCALE_TS);
  project.write("lib/work.ts", WORK_TS);
  project.write("drive.ts", kind === "tsc-cjs" ? DRIVER_CJS_TS : DRIVER_TS);
  if (kind === "tsc-cjs") project.write("package.json", JSON.stringify({ name: "proj-cjs", private: true }));
  if (kind === "tsx")
    return { command: join(ROOT, "node_modules/.bin/tsx"), args: ["drive.ts"], module: "lib/work.ts" };
  project.write(
    "tsconfig.json",
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        skipLibCheck: true,
        esModuleInterop: true,
        outDir: "out",
        rootDir: ".",
        types: ["node"],
        typeRoots: [join(ROOT, "node_modules/@types")],
      },
      include: ["drive.ts", "lib/**/*.ts"],
    }),
  );
  const tsc = await project.run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."]);
  if (tsc.code !== 0) throw new Error(`tsc failed:\n${tsc.out}${tsc.err}`);
  // The compiled function's module is the compiled one; the module form reads the TypeScript source.
  return { command: process.execPath, args: ["out/drive.js"], module: "lib/work.ts" };
}
