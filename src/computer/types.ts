/**
 * How a job is scripted, submitted and polled. A Computer renders text and parses text; it never
 * runs anything itself (the Dataset sends what it renders through a Connection).
 */

export type Submitter = "bash" | "sbatch" | "qsub" | "bsub";

/** What the scheduler says about one job (or one array task, id like "123_4"). */
export interface SchedulerJobState {
  state: "pending" | "running" | "completed" | "failed" | "unknown";
  /** Scheduler's own state word, e.g. TIMEOUT, CANCELLED, NODE_FAIL, PENDING. */
  raw: string;
  /** Human reason for failure or for pending forever, e.g. "TIMEOUT", "DependencyNeverSatisfied". */
  reason?: string;
}

export interface SubmitOptions {
  /** Path of the job script (relative to the folder the submission runs in). */
  script: string;
  jobName: string;
  /** Where the scheduler writes the job's stdout/stderr (may contain the array index pattern). */
  stdout: string;
  stderr: string;
  /** Submit as an array with tasks 0..count-1. */
  arrayCount?: number;
  /** Job ids this job must wait for (successful completion). */
  afterOk?: string[];
  /** Array job id whose task i this array's task i must wait for (Slurm aftercorr). */
  afterCorresponding?: string;
}
