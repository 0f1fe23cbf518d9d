/** `remoterun init [folder]`: write a commented example project that runs as it is. */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import type { Ctx } from "../context.js";
import { EXIT, type ExitCode, UsageError } from "../exit-codes.js";
import { shown } from "../find.js";
import type { Act } from "./types.js";

interface InitOptions {
  force?: boolean;
}

export function registerInit(program: Command, act: Act): void {
  program
    .command("init")
    .description("write an example project (a commented driver script running on this machine) into a folder")
    .argument("[folder]", "where (default: the current folder; made if missing)")
    .option("-f, --force", "overwrite the example's files if they exist")
    .action(act(init));
}

/**
 * How the example imports remoterun: by its package name when the folder (or one above it) has it in
 * node_modules, else by the path of this very installation (a global install, a checkout), which
 * works at once and is replaced by "remoterun" after `npm install remoterun`.
 */
export function importSpecifier(folder: string): { specifier: string; installed: boolean } {
  for (let dir = resolve(folder); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules", "remoterun", "package.json"))) {
      return { specifier: "remoterun", installed: true };
    }
    if (dirname(dir) === dir) break;
  }
  return { specifier: new URL("../../index.js", import.meta.url).href, installed: false };
}

export function driverScript(specifier: string, installed: boolean): string {
  const importNote = installed
    ? "// remoterun is installed in this project (node_modules), so it is imported by its name."
    : `// remoterun is not installed in this project: this imports the copy that wrote the example.
// After \`npm install remoterun\` here, write: import { Dataset } from "remoterun";`;
  return `// An example remoterun project: one function run over a grid of parameters, on this machine.
//
//   node run.mjs                 run it; run it again and it resumes: nothing runs twice
//   remoterun list               the Datasets of this folder (npx remoterun ... when installed locally)
//   remoterun status example     counts per state and the runners (--watch to follow)
//   remoterun results example --csv      args and results as CSV (--json for JSON)
//   remoterun errors example     the failed runners, once each, with their args and error
//   remoterun logs runner-0 example      what a runner printed
//
// Every command takes the Dataset's name ("example"), its <name>-<id>, or its database file.
${importNote}
import { fileURLToPath } from "node:url";
import { Dataset } from ${JSON.stringify(specifier)};

// Work in this script's folder, wherever it is started from: the database
// (example-<id>.remoterun.json) and the relative folders below are kept here.
process.chdir(fileURLToPath(new URL(".", import.meta.url)));

// The function run once per set of args. It takes one args object and may be async. It is sent to
// the far side as source text with what it imports, and runs there in a fresh Node process, so it
// cannot see this file's variables: give it everything through its args.
async function simulate({ temperature, pressure }) {
  if (pressure > 2) throw new RangeError(\`pressure \${pressure} is out of range\`);
  console.log(\`simulating T=\${temperature} p=\${pressure}\`); // kept: remoterun logs <runner>
  await new Promise((r) => setTimeout(r, 100)); // pretend to work
  return { energy: temperature / 100 + pressure ** 2 };
}

const ds = new Dataset(simulate, {
  // Names the database file; a changed function makes a new Dataset (and file) of the same name.
  name: "example",
  // Where the runs go: this machine (the default). Over SSH, for example:
  //   connection: { host: "login.cluster.example", user: "me" },
  // and through a scheduler (import Computer from remoterun too):
  //   computer: Computer.slurm(), runArgs: { time: "00:10:00" },
  localDir: "staging", // the job files are prepared here...
  remoteDir: "runs", // ...and run there (over SSH: relative to your home folder on the far side)
});

// One runner per set of args. Run this script again and the runners already there are skipped.
const grid = [];
for (const temperature of [280, 300, 320]) {
  for (const pressure of [1, 2, 3]) grid.push({ temperature, pressure });
}
ds.appendRuns(grid);

await ds.run(); // submits the runners that have not run yet (all of them at first)
await ds.wait({ interval: 0.5 }); // until every runner has finished
await ds.fetchResults(); // brings back results and errors, in one transfer

ds.runners.forEach((runner) => {
  const { temperature, pressure } = runner.args;
  const outcome = runner.error ? \`failed: \${runner.error.message}\` : \`energy \${runner.result.energy}\`;
  console.log(\`\${runner.name}  T=\${temperature}  p=\${pressure}  \${outcome}\`);
});
// (The runners with pressure 3 fail on purpose: see them with \`remoterun errors example\`.)

await ds.close(); // saves, and lets another process (or the remoterun command) open the Dataset
`;
}

function readme(): string {
  return `# A remoterun example

\`run.mjs\` runs a function over a grid of parameters with remoterun, on this machine, and prints
the results. Run it with \`node run.mjs\`; run it again and it resumes from its database
(\`example-<id>.remoterun.json\`): nothing runs twice.

Then look at it from the shell:

\`\`\`sh
remoterun list                       # the Datasets under this folder
remoterun status example             # counts per state and the runners
remoterun results example --csv      # args and results, one row per runner
remoterun errors example             # each failed runner once, with its args and error
remoterun logs runner-0 example      # what one runner printed
remoterun wipe example --hard -n     # what a full clean-up would delete (drop -n to do it)
\`\`\`

To run elsewhere, give the Dataset a \`connection\` (SSH) and a \`computer\` (a scheduler such
as Slurm): see the comments in run.mjs and remoterun's README.
`;
}

async function init(ctx: Ctx, folder: string | undefined, opts: InitOptions): Promise<ExitCode> {
  const dir = resolve(ctx.cwd, folder ?? ".");
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
  const { specifier, installed } = importSpecifier(dir);
  const files: [string, string][] = [
    ["run.mjs", driverScript(specifier, installed)],
    ["README.md", readme()],
  ];
  const there = files.map(([f]) => join(dir, f)).filter((f) => existsSync(f));
  if (there.length && !opts.force) {
    throw new UsageError(
      `${there.join(", ")} exist(s) already: choose another folder, or --force to overwrite`,
    );
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [f, text] of files) writeFileSync(join(dir, f), text, { mode: 0o600 });
  } catch (e) {
    throw new UsageError(`cannot write the example into ${dir}: ${(e as Error).message}`);
  }
  const where = dir === ctx.cwd ? "." : shown(dir, ctx.cwd);
  ctx.print(`wrote ${files.map(([f]) => join(where, f)).join(" and ")}`);
  ctx.print(
    installed
      ? "remoterun is imported by its package name (installed here)"
      : `remoterun is imported from ${specifier} (it is not installed in ${where})`,
  );
  ctx.print(`next: node ${join(where, "run.mjs")}   then: remoterun status example`);
  return EXIT.OK;
}
