export { Computer, type ComputerOptions, type QsubFlavour } from "./computer.js";
export { formatHMS, parseDuration } from "./duration.js";
export { type PlannedRunner, type PlannedSubmission, planJobs } from "./plan.js";
export { type Placeholder, type PlaceholderFormat, Template } from "./template.js";
export type { SchedulerJobState, SubmitOptions, Submitter } from "./types.js";
