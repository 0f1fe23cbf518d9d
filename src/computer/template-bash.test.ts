/**
 * Rendered templates EXECUTED: the shell code by bash, the `#SBATCH` lines by a transcription of
 * sbatch's own directive parser. What a placeholder became is read back from what ran; a hostile
 * value must arrive as data and never as code or as a directive.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TemplateError } from "../shared/errors.js";
import { Computer } from "./computer.js";
import { Template } from "./template.js";

const scratch = mkdtempSync(join(tmpdir(), "rr-tpl-bash-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;

/** Run a rendered script with bash in a fresh folder; its stdout, and the files it left there. */
function runBash(script: string): { stdout: string; files: string[] } {
  const dir = join(scratch, `run-${n++}`);
  execFileSync("mkdir", ["-p", join(dir, "cwd")]);
  writeFileSync(join(dir, "job.sh"), script);
  const stdout = execFileSync("bash", [join(dir, "job.sh")], {
    cwd: join(dir, "cwd"),
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
  });
  return { stdout, files: readdirSync(join(dir, "cwd")) };
}

/**
 * The arguments sbatch reads from one `#SBATCH` line: a transcription of `_get_argument` in Slurm's
 * src/sbatch/opt.c (split at unquoted whitespace; "..." and '...' quote; a backslash escapes the next
 * character, also inside quotes; an unquoted # ends the line).
 */
function sbatchArgs(line: string): string[] {
  expect(line.startsWith("#SBATCH")).toBe(true);
  const s = line.slice("#SBATCH".length);
  const args: string[] = [];
  let i = 0;
  for (;;) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) return args;
    let arg = "";
    let quote = "";
    let escaped = false;
    let comment = false;
    while (i < s.length && (quote !== "" || !/\s/.test(s[i]))) {
      const c = s[i];
      if (escaped) escaped = false;
      else if (c === "\\") {
        escaped = true;
        i++;
        continue;
      } else if (quote !== "") {
        if (c === quote) {
          quote = "";
          i++;
          continue;
        }
      } else if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      } else if (c === "#") {
        comment = true;
        break;
      }
      arg += c;
      i++;
    }
    expect(quote, `unmatched quote in ${line}`).toBe("");
    if (arg !== "") args.push(arg);
    if (comment || arg === "") return args;
  }
}

/** Values that would run code, split words or add directives if written carelessly. */
const HOSTILE = [
  "plain",
  "two words",
  "it's",
  'say "hi"',
  "$(touch pwned)",
  "`touch pwned`",
  "a; touch pwned",
  "back\\slash",
  "*",
  "$HOME",
  "tab\there",
  "#hash",
  "ünïcødé ✓",
  "",
];

function error(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error("expected a TemplateError");
}

describe("shell code: values are shell-quoted", () => {
  const render = (src: string, values: Record<string, unknown>) =>
    Template.parse(src).render(values, "runner-1");

  it.each(HOSTILE.filter((v) => v !== ""))("an unquoted placeholder is exactly one word: %j", (value) => {
    const { stdout, files } = runBash(render("#!/bin/bash\nprintf '[%s]\\n' #x#\n", { x: value }));
    expect(stdout).toBe(`[${value}]\n`);
    expect(files).toEqual([]);
  });

  it("an array becomes separate words, each quoted", () => {
    const words = HOSTILE.filter((v) => v !== "");
    const { stdout, files } = runBash(render("printf '%s\\n' #words#\n", { words }));
    expect(stdout).toBe(words.map((w) => `${w}\n`).join(""));
    expect(files).toEqual([]);
  });

  it("format=list makes one comma-joined word; sep= changes the separator", () => {
    const { stdout } = runBash(
      render("printf '[%s]\\n' #mods:format=list# #more:format=list:sep=:#\n", {
        mods: ["gcc/12", "open mpi"],
        more: ["/a b", "/c"],
      }),
    );
    expect(stdout).toBe("[gcc/12,open mpi]\n[/a b:/c]\n");
  });

  it("assignments and module lines: `export OMP_NUM_THREADS=#omp#`, `module load #modules#`", () => {
    const src = [
      "#!/bin/bash",
      "module() { printf 'module:%s\\n' \"$@\"; }",
      "export OMP_NUM_THREADS=#omp#",
      "module load #modules#",
      "export LABEL=#label#",
      'printf \'%s|%s\\n\' "$OMP_NUM_THREADS" "$LABEL"',
    ].join("\n");
    const { stdout, files } = runBash(
      render(src, { omp: 8, modules: ["gcc/12.2", "openmpi/4"], label: "run 1; touch pwned" }),
    );
    expect(stdout).toBe("module:load\nmodule:gcc/12.2\nmodule:openmpi/4\n8|run 1; touch pwned\n");
    expect(files).toEqual([]);
  });

  it.each(HOSTILE)("inside double quotes the value stays literal text of the string: %j", (value) => {
    const { stdout, files } = runBash(
      render("printf '%s\\n' \"<#x:optional=false#>\"\n", { x: value || "-" }),
    );
    expect(stdout).toBe(`<${value || "-"}>\n`);
    expect(files).toEqual([]);
  });

  it.each(HOSTILE.filter((v) => v !== ""))("inside single quotes likewise: %j", (value) => {
    const { stdout, files } = runBash(render("printf '%s\\n' 'a #x# b'\n", { x: value }));
    expect(stdout).toBe(`a ${value} b\n`);
    expect(files).toEqual([]);
  });

  it.each(HOSTILE.filter((v) => v !== ""))("inside $'...' likewise: %j", (value) => {
    const { stdout, files } = runBash(render("printf '%s\\n' $'a #x# b'\n", { x: value }));
    expect(stdout).toBe(`a ${value} b\n`);
    expect(files).toEqual([]);
  });

  it("an array inside a quoted string: items joined by spaces", () => {
    const { stdout } = runBash(render("printf '%s\\n' \"mods: #m#\"\n", { m: ["a", "b c"] }));
    expect(stdout).toBe("mods: a b c\n");
  });

  it("a quoted string spanning lines keeps its quoting on the next line", () => {
    const { stdout } = runBash(render("printf '%s\\n' \"first\n#x# second\"\n", { x: "$(id) it's" }));
    expect(stdout).toBe("first\n$(id) it's second\n");
  });

  it.each(HOSTILE.filter((v) => v !== ""))("in a here-document body the value is literal: %j", (value) => {
    const src =
      "cat <<EOF\nvalue = #x#\nEOF\ncat <<-'END'\n\tquoted = #x#\n\tEND\ncat <<\"Q\"\nq = #x#\nQ\necho done\n";
    const { stdout, files } = runBash(render(src, { x: value }));
    expect(stdout).toBe(`value = ${value}\nquoted = ${value}\nq = ${value}\ndone\n`);
    expect(files).toEqual([]);
  });

  it("a shift in arithmetic is not a here-document", () => {
    const { stdout } = runBash(render("echo $((1 << 2)) #x#\n(( y = 1<<3 )); echo $y #x#\n", { x: "a b" }));
    expect(stdout).toBe("4 a b\n8 a b\n");
  });

  it("a here-string (<<<) is not a here-document", () => {
    const { stdout } = runBash(render("cat <<< #x#\necho #x#\n", { x: "a b" }));
    expect(stdout).toBe("a b\na b\n");
  });

  it("a comment is plain text and cannot end early: the value never runs", () => {
    const src = "#!/bin/bash\n# label: #x#\necho ok # trailing #x#\n  # indented #x#\n";
    const { stdout, files } = runBash(render(src, { x: "a; touch pwned $(touch pwned2)" }));
    expect(stdout).toBe("ok\n");
    expect(files).toEqual([]);
    expect(render(src, { x: "a b" })).toBe(
      "#!/bin/bash\n# label: a b\necho ok # trailing a b\n  # indented a b\n",
    );
  });

  it("a newline is refused wherever it would start a new line of the script", () => {
    for (const src of ["# note #x#", "echo #x#", 'echo "#x#"', "cat <<E\n#x#\nE", "#SBATCH -J #x#"]) {
      const e = error(() => render(src, { x: "a\n#SBATCH --exclusive\ntouch pwned" }));
      expect(e.placeholder).toBe("x");
      expect(e.message).toContain("newline");
      expect(e.message).toContain("runner-1");
    }
  });

  it("$# and a bash array length are not comments", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array length
    const { stdout } = runBash(render("a=(1 2 3); echo ${#a[@]} $# #x#\n", { x: "x y" }));
    expect(stdout).toBe("3 0 x y\n");
  });
});

describe("directive lines", () => {
  const computer = (template: string, submitter: "sbatch" | "qsub" | "bsub" = "sbatch") =>
    new Computer({ name: "c", template, submitter });

  it("Slurm: a value with whitespace, quotes, backslash or # reaches sbatch as ONE argument, intact", () => {
    const template = [
      "#!/bin/bash",
      "#SBATCH --comment=#comment#",
      "#SBATCH --partition=#partition:default={queue}#",
      "#SBATCH --exclude=#avoid:optional=true#",
      "echo body",
    ].join("\n");
    for (const value of HOSTILE.filter((v) => v !== "")) {
      const script = computer(template).render({ comment: value, queue: value, avoid: [value, "n2"] }, "r");
      const lines = script.split("\n");
      expect(sbatchArgs(lines[1])).toEqual([`--comment=${value}`]);
      expect(sbatchArgs(lines[2])).toEqual([`--partition=${value}`]);
      expect(sbatchArgs(lines[3])).toEqual([`--exclude=${value},n2`]);
      // and for bash the directives stay comments: only the body runs
      const { stdout, files } = runBash(script);
      expect(stdout).toBe("body\n");
      expect(files).toEqual([]);
    }
  });

  it("Slurm: safe values are written unchanged (the built-in template's fixtures hold)", () => {
    const script = Computer.slurm().render(
      { partition: "short", time: "1h", avoidNodes: ["n01", "n07"] },
      "r",
    );
    expect(script).toBe(
      "#!/bin/bash\n#SBATCH --partition=short\n#SBATCH --time=01:00:00\n#SBATCH --exclude=n01,n07",
    );
    const quoted = Computer.slurm().render({ partition: "short queue" }, "r").split("\n")[1];
    expect(quoted).toBe('#SBATCH --partition="short queue"');
    expect(sbatchArgs(quoted)).toEqual(["--partition=short queue"]);
  });

  it("Slurm: inside quotes the line already has, and after sbatch's own # comment", () => {
    const template = "#SBATCH --comment=\"run #x#, done\" -J 'a #x#' --mem=1G # note #x#\necho body";
    for (const value of HOSTILE.filter((v) => v !== "")) {
      const script = computer(template).render({ x: value }, "r");
      expect(sbatchArgs(script.split("\n")[0])).toEqual([
        `--comment=run ${value}, done`,
        "-J",
        `a ${value}`,
        "--mem=1G",
      ]);
      expect(runBash(script).stdout).toBe("body\n");
    }
  });

  it("Slurm: hetjob/packjob and control characters are refused", () => {
    const e = error(() => Computer.slurm().render({ partition: "my-hetjob" }, "runner-2"));
    expect(e).toMatchObject({ placeholder: "partition", runner: "runner-2", value: "my-hetjob" });
    expect(e.message).toContain("hetjob");
    expect(error(() => Computer.slurm().render({ partition: "a\u0007b" }, "r")).message).toContain("control");
  });

  it.each([
    ["PBS", "qsub", "#!/bin/bash\n#PBS -q #queue#"],
    ["SGE", "qsub", "#!/bin/bash\n#$ -q #queue#"],
    ["LSF", "bsub", "#!/bin/bash\n#BSUB -q #queue#"],
    ["LSF inside quotes", "bsub", '#!/bin/bash\n#BSUB -R "select[#queue#]"'],
  ] as const)(
    "%s: a value the scheduler would split or misread is a TemplateError naming placeholder and value",
    (_s, submitter, template) => {
      const c = computer(template, submitter);
      for (const bad of ["short queue", "it's", 'a"b', "a#b", "a\\b", "a\tb"]) {
        const e = error(() => c.render({ queue: bad }, "runner-5"));
        expect(e).toMatchObject({ placeholder: "queue", runner: "runner-5", value: bad });
        expect(e.message).toContain(JSON.stringify(bad));
        expect(e.message).toContain("#queue#");
        expect(e.message).toContain("directive line");
      }
      expect(c.render({ queue: "compute-1.long" }, "r")).toContain("compute-1.long");
    },
  );

  it("the built-in PBS, SGE and LSF templates refuse a queue with a space", () => {
    for (const c of [Computer.pbs(), Computer.sge(), Computer.lsf()])
      expect(error(() => c.render({ queue: "short queue" }, "r")).placeholder).toBe("queue");
  });

  it("a newline in a directive value is refused (directive injection)", () => {
    const e = error(() => Computer.slurm().render({ qos: "x\n#SBATCH --exclusive" }, "runner-3"));
    expect(e.message).toContain("newline");
    expect(e.message).toContain("runner-3");
  });
});

describe("unclosed placeholders", () => {
  it.each([
    ["#!/bin/bash\n#SBATCH --time=#time:format=time\n", 2, "time", "#time:format=time"],
    ["#SBATCH --nodes=#nodes:default=1 --exclusive", 1, "nodes", "#nodes:default=1 --exclusive"],
    ["echo ok\necho #x:optional=true and more\n", 2, "x", "#x:optional=true and more"],
    ["#PBS -q #queue# -l #mem:min=1", 1, "mem", "#mem:min=1"],
  ])("%j is a TemplateError at Computer creation naming line and text", (template, line, name, text) => {
    const e = error(() => new Computer({ name: "c", template, submitter: "sbatch" }));
    expect(e).toMatchObject({ placeholder: name, line, runner: undefined });
    expect(e.message).toContain(`line ${line}`);
    expect(e.message).toContain(text);
    expect(error(() => Template.parse(template)).line).toBe(line);
  });

  it("ordinary comments, directives and shell # are not placeholders", () => {
    const template = [
      "#!/bin/bash",
      "#SBATCH --time=01:00:00",
      "#SBATCH --mail-type=END # a note: see #docs",
      "#$ -l h_rt=01:00:00",
      '#BSUB -R "span[ptile=4]"',
      "# TODO:owner=me and #issue:12",
      "#TODO:owner=me",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array length
      'echo "#x" ${#a} $# # done',
    ].join("\n");
    const c = new Computer({ name: "c", template, submitter: "sbatch" });
    expect(c.template.placeholders.size).toBe(0);
    expect(c.render({}, "r")).toBe(template);
  });
});

describe("script Datasets (shell rendering)", () => {
  it("a missing placeholder names the runner's args, not run args", () => {
    const e = error(() => Template.parse("echo #name#").render({}, "runner-4", { shell: true }));
    expect(e.message).toContain('appendRun args need key "name"');
    expect(e.message).not.toContain("run arg");
  });

  it("a newline may stand in a quoted word or string; the script sees it intact", () => {
    const t = Template.parse("printf '[%s]\\n' #x# \"#x#\" '#x#'\n");
    const { stdout } = runBash(t.render({ x: "a\nb" }, "r", { shell: true }));
    expect(stdout).toBe("[a\nb]\n[a\nb]\n[a\nb]\n");
  });

  it("#SBATCH lines of a script are comments: values are text and never split", () => {
    const out = Template.parse("#SBATCH -J #x#\necho ok").render({ x: "a b" }, "r", { shell: true });
    expect(out).toBe("#SBATCH -J a b\necho ok");
    expect(existsSync(scratch)).toBe(true);
  });
});
