/**
 * A Computer = a job-script template + the scheduler that runs it. It renders text (headers,
 * submit/status/cancel snippets) and parses text (job ids, states); the Dataset sends the text
 * through a Connection.
 */
import { parse as parseYAML, stringify as stringifyYAML } from "yaml";
import { InvalidArgumentError } from "../shared/errors.js";
import { checkOptionKeys } from "../shared/suggest.js";
import {
  BASH_TEMPLATE,
  LSF_TEMPLATE,
  PBS_PRO_TEMPLATE,
  PBS_TORQUE_TEMPLATE,
  SGE_TEMPLATE,
  SLURM_TEMPLATE,
} from "./builtins.js";
import { BashDriver } from "./schedulers/bash.js";
import type { SchedulerDriver } from "./schedulers/driver.js";
import { LsfDriver } from "./schedulers/lsf.js";
import { PbsDriver } from "./schedulers/pbs.js";
import { SgeDriver } from "./schedulers/sge.js";
import { SlurmDriver } from "./schedulers/slurm.js";
import { Template } from "./template.js";
import type { SchedulerJobState, SubmitOptions, Submitter } from "./types.js";

/** Which qsub: PBS Professional/OpenPBS, Torque, or Grid Engine. */
export type QsubFlavour = "pro" | "torque" | "sge";

export interface ComputerOptions {
  name: string;
  /** Job-script header template (placeholder grammar: {@link Template}). */
  template: string;
  submitter: Submitter;
  /** Only for submitter "qsub" (default "pro"). */
  flavour?: QsubFlavour;
  /** Override the shell expression that yields the 0-based array task index. */
  arrayIndexExpr?: string;
}

const SUBMITTERS: readonly Submitter[] = ["bash", "sbatch", "qsub", "bsub"];
const FLAVOURS: readonly QsubFlavour[] = ["pro", "torque", "sge"];
const OPTION_KEYS = ["name", "template", "submitter", "flavour", "arrayIndexExpr"];

function driverFor(submitter: Submitter, flavour: QsubFlavour): SchedulerDriver {
  switch (submitter) {
    case "bash":
      return new BashDriver();
    case "sbatch":
      return new SlurmDriver();
    case "bsub":
      return new LsfDriver();
    case "qsub":
      return flavour === "sge" ? new SgeDriver() : new PbsDriver(flavour);
  }
}

function validate(options: ComputerOptions): void {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new InvalidArgumentError("Computer options", options, "an object");
  // Unknown keys (a YAML file's `schedulr:`, a remotemanager `array_index_expr`) with "did you mean".
  checkOptionKeys("Computer", options, { own: OPTION_KEYS, runArgs: false });
  if (typeof options.name !== "string" || options.name.trim() === "")
    throw new InvalidArgumentError("Computer name", options.name, "a non-empty string");
  if (typeof options.template !== "string")
    throw new InvalidArgumentError("Computer template", options.template, "a string");
  if (!SUBMITTERS.includes(options.submitter))
    throw new InvalidArgumentError("Computer submitter", options.submitter, SUBMITTERS.join(" | "));
  if (options.flavour !== undefined) {
    if (options.submitter !== "qsub")
      throw new InvalidArgumentError(
        "Computer flavour",
        options.flavour,
        "no flavour unless the submitter is qsub",
      );
    if (!FLAVOURS.includes(options.flavour))
      throw new InvalidArgumentError("Computer flavour", options.flavour, FLAVOURS.join(" | "));
  }
  if (
    options.arrayIndexExpr !== undefined &&
    (typeof options.arrayIndexExpr !== "string" ||
      options.arrayIndexExpr.trim() === "" ||
      options.arrayIndexExpr.includes("\n"))
  )
    throw new InvalidArgumentError(
      "Computer arrayIndexExpr",
      options.arrayIndexExpr,
      "a one-line shell expression",
    );
}

export class Computer {
  readonly name: string;
  readonly submitter: Submitter;
  readonly flavour: QsubFlavour | undefined;
  readonly template: Template;
  private readonly driver: SchedulerDriver;
  private readonly indexOverride: string | undefined;

  constructor(options: ComputerOptions) {
    validate(options);
    this.name = options.name;
    this.submitter = options.submitter;
    this.flavour = options.submitter === "qsub" ? (options.flavour ?? "pro") : undefined;
    this.template = Template.parse(options.template);
    this.driver = driverFor(this.submitter, this.flavour ?? "pro");
    this.indexOverride = options.arrayIndexExpr;
  }

  // ---- built-ins -------------------------------------------------------------------------
  static bash(name = "bash"): Computer {
    return new Computer({ name, template: BASH_TEMPLATE, submitter: "bash" });
  }
  static slurm(name = "slurm"): Computer {
    return new Computer({ name, template: SLURM_TEMPLATE, submitter: "sbatch" });
  }
  static pbs(options: { flavour?: "pro" | "torque"; name?: string } = {}): Computer {
    const flavour = options.flavour ?? "pro";
    if (flavour !== "pro" && flavour !== "torque")
      throw new InvalidArgumentError("PBS flavour", flavour, '"pro" | "torque"');
    const template = flavour === "pro" ? PBS_PRO_TEMPLATE : PBS_TORQUE_TEMPLATE;
    return new Computer({ name: options.name ?? `pbs-${flavour}`, template, submitter: "qsub", flavour });
  }
  static sge(name = "sge"): Computer {
    return new Computer({ name, template: SGE_TEMPLATE, submitter: "qsub", flavour: "sge" });
  }
  static lsf(name = "lsf"): Computer {
    return new Computer({ name, template: LSF_TEMPLATE, submitter: "bsub" });
  }

  // ---- templates -------------------------------------------------------------------------
  /** The job-script header for one runner; TemplateError names the placeholder and the runner. */
  render(values: Readonly<Record<string, unknown>>, runnerName?: string): string {
    if (values === null || typeof values !== "object")
      throw new InvalidArgumentError("render values", values, "an object of run args");
    return this.template.render(values, runnerName);
  }

  // ---- scheduler -------------------------------------------------------------------------
  /** Shell expression giving the 0-based array task index. */
  get arrayIndexExpr(): string {
    return this.indexOverride ?? this.driver.arrayIndexExpr;
  }
  /** What the scheduler replaces by the array index in -o/-e paths (see SchedulerDriver). */
  get outputIndexPattern(): string | undefined {
    return this.driver.outputIndexPattern;
  }
  /** One bash command line that submits and prints only the job id. */
  submitSnippet(opts: SubmitOptions): string {
    return this.driver.submitSnippet(opts);
  }
  /** The job id in the raw output of the submit command; SchedulerError if there is none. */
  parseJobId(stdout: string): string {
    return this.driver.parseJobId(stdout);
  }
  /** One bash snippet printing the state of all given jobs and their array tasks. */
  statusScript(jobIds: readonly string[]): string {
    return this.driver.statusScript(jobIds);
  }
  /** States by job id; array tasks as `<id>_<0-based index>`. Jobs not in the output are absent. */
  parseStatus(output: string): Map<string, SchedulerJobState> {
    return this.driver.parseStatus(output);
  }
  /** One command cancelling all given jobs. */
  cancelScript(jobIds: readonly string[]): string {
    return this.driver.cancelScript(jobIds);
  }

  // ---- persistence -----------------------------------------------------------------------
  toJSON(): ComputerOptions {
    const out: ComputerOptions = {
      name: this.name,
      submitter: this.submitter,
      template: this.template.source,
    };
    if (this.flavour !== undefined) out.flavour = this.flavour;
    if (this.indexOverride !== undefined) out.arrayIndexExpr = this.indexOverride;
    return out;
  }
  toYAML(): string {
    return stringifyYAML(this.toJSON(), { lineWidth: 0, blockQuote: "literal" });
  }
  static fromYAML(text: string): Computer {
    if (typeof text !== "string") throw new InvalidArgumentError("Computer YAML", text, "a string");
    let data: unknown;
    try {
      data = parseYAML(text);
    } catch (e) {
      throw new InvalidArgumentError("Computer YAML", text, "valid YAML", (e as Error).message);
    }
    return new Computer(data as ComputerOptions);
  }
}
