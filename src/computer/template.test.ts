import { describe, expect, it } from "vitest";
import { TemplateError } from "../shared/errors.js";
import { formatHMS, parseDuration } from "./duration.js";
import { Template } from "./template.js";

const render = (source: string, values: Record<string, unknown>, runner = "runner-1") =>
  Template.parse(source).render(values, runner);

function renderError(source: string, values: Record<string, unknown>, runner = "runner-7"): TemplateError {
  try {
    render(source, values, runner);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error("expected a TemplateError");
}

function parseError(source: string): TemplateError {
  try {
    Template.parse(source);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error("expected a TemplateError");
}

describe("placeholder grammar", () => {
  it("leaves #SBATCH, shebangs, comments and #$ lines alone", () => {
    const src = "#!/bin/bash\n# a comment\n#SBATCH --exclusive\n#$ -cwd\n#BSUB -x\necho '#'";
    const t = Template.parse(src);
    expect(t.placeholders.size).toBe(0);
    expect(t.render({}, "r")).toBe(src);
  });

  it("finds a placeholder after a directive prefix on the same line", () => {
    const t = Template.parse("#SBATCH --time=#time:format=time:optional=true#");
    expect([...t.placeholders.keys()]).toEqual(["time"]);
    expect(t.placeholders.get("time")).toMatchObject({ format: "time", optional: true });
    expect(t.render({ time: 90 }, "r")).toBe("#SBATCH --time=00:01:30");
  });

  it("parses all keys, and option values may contain ':'", () => {
    const p = Template.parse(
      "#x:default=01:30:00:optional=false:min=1:max=64:format=int:sep=;:requires=y# #y#",
    ).placeholders.get("x");
    expect(p).toMatchObject({
      default: "01:30:00",
      optional: false,
      min: 1,
      max: 64,
      format: "int",
      sep: ";",
    });
    expect(p?.requires).toEqual(["y"]);
  });

  it("a bare #name# is required", () => {
    expect(render("--nodes=#nodes#", { nodes: 3 })).toBe("--nodes=3");
    const e = renderError("--nodes=#nodes#", {});
    expect(e.placeholder).toBe("nodes");
    expect(e.runner).toBe("runner-7");
    expect(e.message).toContain("nodes");
    expect(e.message).toContain("runner-7");
  });

  it("uses the default when no value is given, the value otherwise", () => {
    expect(render("n=#n:default=4#", {})).toBe("n=4");
    expect(render("n=#n:default=4#", { n: 9 })).toBe("n=9");
    expect(render("n=#n:default=4#", { n: "" })).toBe("n=4");
  });

  it("drops the whole line of an empty optional placeholder, keeps the others", () => {
    const src = "#!/bin/bash\n#SBATCH --qos=#qos:optional=true#\n#SBATCH --nodes=#nodes:default=1#\necho hi";
    expect(render(src, {})).toBe("#!/bin/bash\n#SBATCH --nodes=1\necho hi");
    expect(render(src, { qos: "high" })).toBe("#!/bin/bash\n#SBATCH --qos=high\n#SBATCH --nodes=1\necho hi");
    expect(render(src, { qos: null })).toBe("#!/bin/bash\n#SBATCH --nodes=1\necho hi");
    expect(render(src, { qos: [] })).toBe("#!/bin/bash\n#SBATCH --nodes=1\necho hi");
  });

  it("repeats a placeholder defined once and used again bare", () => {
    expect(render("#n:default=2# and #n#", {})).toBe("2 and 2");
  });

  it("on directive lines joins arrays with commas, or with sep", () => {
    expect(render("#SBATCH --exclude=#avoid:optional=true#", { avoid: ["a", "b"] })).toBe(
      "#SBATCH --exclude=a,b",
    );
    expect(render("#$ -l h=!(#avoid:format=list:sep=|#)", { avoid: "a, b c" })).toBe("#$ -l h=!(a|b|c)");
  });

  it("in shell code an array is one word per item, format=list one comma-joined word", () => {
    expect(render("module load #mods#", { mods: ["gcc/12", "open mpi"] })).toBe(
      "module load gcc/12 'open mpi'",
    );
    expect(render("export L=#mods:format=list#", { mods: ["a", "b c"] })).toBe("export L='a,b c'");
  });

  it("renders numbers and booleans as text", () => {
    expect(render("#a# #b#", { a: 1.5, b: true })).toBe("1.5 true");
  });
});

describe("durations (format=time)", () => {
  it.each([
    [90, "00:01:30"],
    ["90", "00:01:30"],
    ["1h30m", "01:30:00"],
    ["1d2h", "26:00:00"],
    ["45s", "00:00:45"],
    ["2m", "00:02:00"],
    ["01:30:00", "01:30:00"],
    ["1:30:00", "01:30:00"],
    ["90:00", "01:30:00"],
    ["1-02:00:00", "26:00:00"],
    [100 * 3600, "100:00:00"],
    [1.2, "00:00:02"],
  ])("%j → %s", (input, expected) => {
    expect(render("#t:format=time#", { t: input })).toBe(expected);
  });

  it.each(["abc", "1x", "01:61:00", "-5", "1h30", "h", ""])("refuses %j", (bad) => {
    if (bad === "") {
      // empty is "no value": a required placeholder reports that instead
      expect(renderError("#t:format=time#", { t: bad }).message).toContain("required");
      return;
    }
    const e = renderError("#t:format=time#", { t: bad });
    expect(e.message).toContain("not a duration");
    expect(e.message).toContain("#t#");
    expect(e.message).toContain("runner-7");
  });

  it("parseDuration/formatHMS agree", () => {
    expect(parseDuration("2d")).toBe(172800);
    expect(formatHMS(172800)).toBe("48:00:00");
    expect(parseDuration({})).toBeUndefined();
  });

  it("format=minutes rounds up to whole minutes", () => {
    expect(render("-W #t:format=minutes#", { t: 61 })).toBe("-W 2");
    expect(render("-W #t:format=minutes#", { t: "1h30m" })).toBe("-W 90");
  });
});

describe("ranges and formats", () => {
  const src = "--nodes=#nodes:min=1:max=64:optional=true#";
  it("accepts values inside min..max", () => {
    expect(render(src, { nodes: 1 })).toBe("--nodes=1");
    expect(render(src, { nodes: "64" })).toBe("--nodes=64");
  });
  it("below min names placeholder, runner and bound", () => {
    const e = renderError(src, { nodes: 0 });
    expect(e.placeholder).toBe("nodes");
    expect(e.message).toMatch(/runner-7.*#nodes#.*0 is below min 1/);
  });
  it("above max names placeholder, runner and bound", () => {
    const e = renderError(src, { nodes: 65 });
    expect(e.message).toMatch(/runner-7.*#nodes#.*65 is above max 64/);
  });
  it("a non-number with bounds is an error", () => {
    expect(renderError(src, { nodes: "many" }).message).toContain("not a number");
  });
  it("min/max of a time are in seconds", () => {
    expect(renderError("#t:format=time:max=3600#", { t: "2h" }).message).toContain(
      "7200 seconds is above max 3600",
    );
  });
  it("format=int refuses fractions, format=float accepts them", () => {
    expect(renderError("#n:format=int#", { n: 2.5 }).message).toContain("not an integer");
    expect(render("#n:format=float#", { n: "2.5" })).toBe("2.5");
  });
  it("refuses values with a newline (directive injection)", () => {
    const e = renderError("#SBATCH --qos=#qos#", { qos: "x\n#SBATCH --exclusive" });
    expect(e.message).toContain("newline");
    expect(e.message).toContain("runner-7");
  });
  it("refuses objects", () => {
    expect(renderError("#a#", { a: { b: 1 } }).message).toContain("cannot put");
  });
});

describe("requires", () => {
  const src = "#gpuType:optional=true:requires=gpus#\n#gpus:optional=true#";
  it("passes when both have values, and when the dependent one is empty", () => {
    expect(render(src, { gpuType: "a100", gpus: 2 })).toBe("a100\n2");
    expect(render(src, { gpus: 2 })).toBe("2");
  });
  it("fails when the required other has no value, naming both and the runner", () => {
    const e = renderError(src, { gpuType: "a100" });
    expect(e.placeholder).toBe("gpuType");
    expect(e.message).toContain("gpus");
    expect(e.message).toContain("runner-7");
  });
  it("an unknown name in requires fails at parse time", () => {
    const e = parseError("#a:requires=nothere#");
    expect(e.placeholder).toBe("a");
    expect(e.runner).toBeUndefined();
    expect(e.message).toContain("nothere");
  });
});

describe("links", () => {
  it("computes arithmetic over other placeholders and run args", () => {
    const src = "--ntasks=#ntasks:default={nodes*tasksPerNode}#\n--nodes=#nodes:default=2#";
    expect(render(src, { tasksPerNode: 4 })).toBe("--ntasks=8\n--nodes=2");
    expect(render(src, { tasksPerNode: 4, nodes: 3 })).toBe("--ntasks=12\n--nodes=3");
    expect(render(src, { tasksPerNode: 4, ntasks: 5 })).toBe("--ntasks=5\n--nodes=2");
  });
  it("supports + - * / parentheses, unary minus and ??", () => {
    expect(render("#x:default={(a+b)*2-c/4}#", { a: 1, b: 2, c: 8 })).toBe("4");
    expect(render("#x:default={-a+10}#", { a: 3 })).toBe("7");
    expect(render("#x:default={(a??1)*(b??3)}#", { a: 2 })).toBe("6");
  });
  it("a lone link passes the value through (timeout fallback)", () => {
    const src = "--time=#time:format=time:default={timeout}:optional=true#";
    expect(render(src, { timeout: 3600 })).toBe("--time=01:00:00");
    expect(render(src, { timeout: 3600, time: "2h" })).toBe("--time=02:00:00");
    expect(render(src, {})).toBe("");
  });
  it("interpolates links inside text", () => {
    expect(render("#x:default=node{n}#", { n: 3 })).toBe("node3");
  });
  it("run-arg values written as {expr} are links too", () => {
    expect(render("#a# #b#", { a: 3, b: "{a*2}" })).toBe("3 6");
  });
  it("a link to a missing value makes a required placeholder an error", () => {
    const e = renderError("#ntasks:default={nodes*tpn}#", { nodes: 2 });
    expect(e.message).toContain("required");
    expect(e.message).toContain("{nodes*tpn}");
  });
  it("non-numeric arithmetic, bad syntax and cycles are errors", () => {
    expect(renderError("#x:default={a*2}#", { a: "lots" }).message).toContain("not a number");
    expect(renderError("#x:default={a*}#", { a: 1 }).message).toContain("unexpected end");
    expect(renderError("#a:default={b}# #b:default={a}#", {}).message).toContain("cycle");
    expect(renderError("#x:default={a/0}#", { a: 1 }).message).toContain("division by zero");
  });
  it("rejects bad characters in links at parse time", () => {
    expect(parseError("#x:default={a;rm}#").message).toContain("unexpected character");
  });
});

describe("parse errors", () => {
  it.each([
    ["#a:colour=red#", "unknown option"],
    ["#a:optional=yes#", "optional must be true or false"],
    ["#a:min=x#", "min must be a number"],
    ["#a:format=date#", "format must be one of"],
    ["#a:min=5:max=1#", "above max"],
    ["#a:default=1# #a:default=2#", "defined twice"],
    ["#a:min=1:min=2#", "given twice"],
  ])("%s", (src, message) => {
    expect(parseError(src).message).toContain(message);
  });
});
